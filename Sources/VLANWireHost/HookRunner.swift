import Logging
package import VLANWire

/// libvirt's qemu hook: `qemu GUEST OP SUBOP EXTRA`, the live domain XML on stdin.
///
/// What each operation does (ARCHITECTURE.md): prepare/migrate/restore create what libvirt needs to
/// attach taps, refusing a bad policy (exit 1: the guest does not start); start/started set the
/// taps' VLANs; stopped/release forget the guest and never fail; reconnect/attach (libvirtd
/// restarted) re-apply and ALWAYS exit 0 — a failing reconnect hook makes libvirt kill the guest.
/// migrate/restore also write the XML back on stdout. Anything else: exit 0.
package struct HookRunner {
    package var wiring: Wiring
    /// Reads the config into `wiring` only when there is something to wire or release (a guest
    /// without a bridge NIC, or the release of one vlanwire never wired, reads no file).
    package var loadConfig: (() throws(ConfigFile.LoadError) -> HostConfig?)?

    package init(wiring: Wiring, loadConfig: (() throws(ConfigFile.LoadError) -> HostConfig?)? = nil) {
        self.wiring = wiring
        self.loadConfig = loadConfig
    }

    /// `wiring` with the config read, when there is a loader.
    func configured() throws(ConfigFile.LoadError) -> Wiring {
        var wiring = self.wiring
        if let loadConfig { wiring.config = try loadConfig() }
        return wiring
    }

    package struct Result: Sendable {
        package var exitCode: Int32
        /// What to write on stdout (migrate/restore: the domain XML libvirt should use).
        package var stdout: [UInt8]
        /// One line per problem, for stderr (libvirt shows it in `virsh start`'s error).
        package var errors: [String]
    }

    /// `arguments` are what libvirt passes after the program name: GUEST OP SUBOP EXTRA.
    package func run(arguments: [String], xml: [UInt8]) -> Result {
        guard arguments.count >= 2 else {
            return Result(exitCode: 0, stdout: [], errors: [])
        }
        let guest = arguments[0]
        guard let operation = HookOperation(rawValue: arguments[1]) else {
            return Result(exitCode: 0, stdout: [], errors: [])
        }
        let logger = wiring.logger
        // libvirt expects a filter's output even when there is nothing to change.
        let echo = operation == .migrate || operation == .restore ? xml : []

        if operation.phase == .release {
            // A guest the state does not record has nothing of vlanwire's to undo: no netlink, no
            // lock, no probe. (Orphans of a killed run are adopted by the next locked run.)
            if wiring.store.records(guest: guest) {
                do { _ = try configured().release(guest: guest, operation: operation) } catch {
                    // A broken config must not block cleanup: the next release or reconcile retries.
                    logger.error("\(operation.rawValue): guest '\(guest.escapedForDisplay)': config \(error)")
                }
            }
            return Result(exitCode: 0, stdout: echo, errors: [])
        }

        let domain: DomainDescription
        do {
            domain = try DomainDescription(xml: xml, guestHint: guest)
        } catch {
            return failure(error.problems.map(\.description), operation: operation, echo: echo)
        }
        // A guest with no bridge or network NIC costs no netlink, lock or state.
        guard domain.interfaces.contains(where: Self.mayBeManaged) else {
            return Result(exitCode: 0, stdout: echo, errors: [])
        }
        do {
            _ = try configured().apply(domain, operation: operation)
            return Result(exitCode: 0, stdout: echo, errors: [])
        } catch let error as ConfigFile.LoadError {
            return failure(["guest '\(guest.escapedForDisplay)': config \(error.description)"], operation: operation, echo: echo)
        } catch let refusal as Refusal {
            return failure(refusal.problems.map(\.description), operation: operation, echo: echo)
        } catch {
            return failure(["guest '\(guest.escapedForDisplay)': \(error)"], operation: operation, echo: echo)
        }

        func failure(_ lines: [String], operation: HookOperation, echo: [UInt8]) -> Result {
            for line in lines { logger.error("\(operation.rawValue): \(line)") }
            guard operation.mayRefuse else {
                logger.warning("\(guest) \(operation.rawValue): failed, exiting 0 so libvirt keeps the guest running")
                return Result(exitCode: 0, stdout: echo, errors: [])
            }
            return Result(exitCode: 1, stdout: [], errors: lines.map { "vlanwire: " + $0 })
        }
    }

    static func mayBeManaged(_ interface: DomainInterface) -> Bool {
        interface.type == "bridge" || interface.type == "network"
    }
}
