import Logging
package import VLANWire
import VLANWireNetlink

/// What `vlanwire watch` did about one guest: its drift and the actions that repaired it, one
/// line per NIC for the log.
package struct GuestRepair: Sendable {
    package enum Status: Equatable, Sendable {
        /// The kernel already matched the guest's policies.
        case unchanged
        /// Actions were applied.
        case repaired
        /// Left alone, and why (its hook is running, it has no tap here).
        case skipped(String)
        /// Refused or not applied (undone); `problems` say why.
        case failed
    }

    package var guest: String
    package var status: Status
    /// One line per repaired NIC: guest, MAC, tap, what had changed, what was done.
    package var lines: [String]
    package var actions: [Action]
    package var problems: [Problem]
}

extension Wiring {
    /// Puts one running guest back to its policies (as the `reconnect` hook does), for
    /// `vlanwire watch`. `domain` is the live XML, read from libvirt BEFORE calling this (never ask
    /// libvirt while holding the lock: a hook waiting for it would stall libvirt).
    ///
    /// Under the lock, a guest is left to its hook when the state shows its `prepare` ran but not
    /// its `start` (the hook is starting it), and when none of its NICs has a tap here (it is
    /// stopping, or not running in this namespace): watch never wires a guest its hook is starting
    /// or stopping, and never re-creates links for a guest that is gone.
    ///
    /// - Throws: only when the lock, the state directory or netlink cannot be used at all.
    package func repair(_ domain: DomainDescription) throws -> GuestRepair {
        let handle = try NetlinkHandle(namespace: namespace, logger: logger)
        return try store.withLock(guest: domain.name) { stored in
            let observed = try handle.snapshot(probingCapabilities: false)
            let state = known(stored, observed)
            func left(_ reason: String) -> (VLANWireState?, GuestRepair) {
                (stored, GuestRepair(guest: domain.name, status: .skipped(reason), lines: [], actions: [], problems: []))
            }
            if state.guest(named: domain.name)?.isStarting == true {
                return left("its hook is starting it (prepared, not yet started)")
            }
            guard domain.interfaces.contains(where: { Self.hasTap($0, in: observed) }) else {
                return left("none of its NICs has a tap here (stopping, or not running in this namespace)")
            }
            let topology = Topology.resolve(config: config, observed: observed)
            let drift = NICAudit.audit(domain, topology: topology, observed: observed)
            let wired: WiredGuest
            do throws(WiringFailure) {
                wired = try wire(domain, operation: .reconnect, state: state, observed: observed, handle: handle)
            } catch {
                let problems = error.problems(guest: domain.name, retry: "`vlanwire watch` retries on the next change")
                return (stored, GuestRepair(guest: domain.name, status: .failed, lines: [], actions: [], problems: problems))
            }
            let actions = wired.report.appliedActions
            let status: GuestRepair.Status = !wired.problems.isEmpty ? .failed : actions.isEmpty ? .unchanged : .repaired
            let lines = Self.repairLines(guest: domain.name, record: wired.plan.record, drift: drift, actions: actions)
            return (
                wired.state,
                GuestRepair(
                    guest: domain.name, status: status, lines: lines, actions: actions,
                    problems: wired.problems)
            )
        }
    }

    /// Whether the NIC's tap exists: its `<target dev>` carrying the NIC's tap MAC, or any link with it.
    static func hasTap(_ interface: DomainInterface, in observed: ObservedState) -> Bool {
        guard interface.type == "bridge" || interface.type == "network", let mac = interface.mac else { return false }
        return observed.link(withMAC: mac.libvirtTapAddress) != nil
    }

    /// One line per NIC that drifted or got actions; actions on no NIC's links (the trunk bridge,
    /// the uplink) go on a line of their own.
    static func repairLines(guest: String, record: GuestRecord?, drift: [NICAudit.GuestNIC], actions: [Action]) -> [String] {
        var remaining = actions
        var lines: [String] = []
        for nic in record?.nics ?? [] {
            // Its tap and its access bridge and leg; the trunk bridge and uplink are shared.
            let links = Set([nic.tap].compactMap { $0 } + nic.uses)
            let mine = remaining.filter { !links.isDisjoint(with: $0.links) }
            remaining.removeAll { mine.contains($0) }
            let changed = drift.first { $0.interface.mac == nic.mac }?.mismatches.map(\.message) ?? []
            guard !mine.isEmpty else { continue }
            let tap = nic.tap.map { " (\($0))" } ?? ""
            lines.append(
                "repaired guest '\(guest.escapedForDisplay)', NIC \(nic.mac)\(tap), \(nic.policy.map { "\($0)" } ?? "no policy"): "
                    + (changed.isEmpty ? "drifted" : changed.joined(separator: "; "))
                    + " -> " + mine.map(\.description).joined(separator: "; "))
        }
        if !remaining.isEmpty {
            lines.append("repaired guest '\(guest.escapedForDisplay)': " + remaining.map(\.description).joined(separator: "; "))
        }
        return lines
    }
}
