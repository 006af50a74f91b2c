import ArgumentParser
import Logging
import VLANWire
import VLANWireHost
import VLANWireLibvirt
import VLANWireNetlink

/// What `doctor` and `trace` read before their pure analysis: the kernel (or a JSON snapshot) and
/// domain XML files.
enum DiagnosisInputs {
    /// `--observed FILE` (a `vlanwire status --json`), else a netlink snapshot of the namespace.
    static func observed(file: String?, namespace: NamespaceOption) throws -> ObservedState {
        if let file { return try readJSON(ObservedState.self, path: file) }
        do {
            return try NetlinkHandle(namespace: try namespace.namespace(), logger: Logger(label: "vlanwire.doctor")).snapshot()
        } catch let error as NetlinkError {
            throw CLIFailure("cannot read the kernel's links: \(error)")
        }
    }

    /// The guest from `--xml FILE` (whose name must be `guest` when both are given), else libvirt's
    /// domain `guest` in `form` (what is in effect, or the persistent definition).
    static func guest(
        _ guest: String?, file: String?, connection: ConnectOptions, form: LibvirtXMLForm = .current
    ) throws -> DomainDescription {
        if let file {
            let domain = try readDomain(file)
            if let guest, guest != domain.name {
                throw ValidationError("\(file) describes guest '\(domain.name.escapedForDisplay)', not '\(guest.escapedForDisplay)'")
            }
            return domain
        }
        let libvirt = try connection.connect()
        do {
            let domain = try libvirt.domain(named: guest!)
            return try DomainDescription(xml: Array(try domain.xml(form).utf8), guestHint: guest)
        } catch let error as LibvirtError {
            throw CLIFailure(error.description)
        }
    }

    /// Put before commands a finding or trace suggests: run them in the same namespace.
    static func commandPrefix(_ namespace: NamespaceOption) -> String {
        namespace.netns.map { "ip netns exec \($0) " } ?? ""
    }

    /// Domain XML files; unreadable ones become problems (one per file) rather than stopping.
    static func domains(files: [String]) -> (domains: [DomainDescription], problems: [Problem]) {
        var domains: [DomainDescription] = []
        var problems: [Problem] = []
        for path in files {
            do { domains.append(try readDomain(path)) } catch let refusal as Refusal {
                problems += refusal.problems
            } catch {
                problems.append(Problem(guest: path, cause: "\(error)"))
            }
        }
        return (domains, problems)
    }
}
