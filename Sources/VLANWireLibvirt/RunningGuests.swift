internal import Glibc
package import Logging
package import VLANWire
package import VLANWireReports

/// A running guest's live definition, as `vlanwire status` and `vlanwire reconcile` read it.
package struct RunningGuest: Sendable {
    package var name: String
    package var uuid: String?
    /// The live XML as vlanwire's reader understands it; nil when `problems` say why not.
    package var domain: DomainDescription?
    /// Why the guest could not be read: not found, not running, libvirt failed, or its XML
    /// (metadata) is refused (one problem per bad NIC then).
    package var problems: [Problem]

    package init(name: String, uuid: String?, domain: DomainDescription?, problems: [Problem] = []) {
        self.name = name
        self.uuid = uuid
        self.domain = domain
        self.problems = problems
    }
}

extension LibvirtConnection {
    /// The live definitions of the running guests (running or paused), in libvirt's order; or, when
    /// `names` is not empty, of those guests (names or UUIDs) in the order given.
    ///
    /// One entry per guest; a guest that cannot be read carries a `problem` instead of a domain,
    /// so one bad guest does not hide the others. A named guest that does not exist or is not
    /// running is such a problem.
    ///
    /// - Throws: `LibvirtError` only when the guest list itself cannot be had.
    package func runningGuests(named names: [String] = []) throws(LibvirtError) -> [RunningGuest] {
        if names.isEmpty {
            return try domains(.running).map { read($0) }
        }
        var guests: [RunningGuest] = []
        for name in names {
            let domain: LibvirtDomain
            do { domain = try lookUpGuest(name) } catch {
                let cause = error.code == .noDomain ? "no such guest on \(uri)" : error.description
                guests.append(RunningGuest(name: name, uuid: nil, domain: nil, problems: [Problem(guest: name, cause: cause)]))
                continue
            }
            do {
                guard try domain.isActive() else {
                    guests.append(
                        RunningGuest(
                            name: domain.name, uuid: domain.uuid, domain: nil,
                            problems: [
                                Problem(
                                    guest: domain.name, cause: "not running", fix: "the hook wires it when it starts: virsh start \(domain.name)")
                            ]))
                    continue
                }
            } catch {
                guests.append(
                    RunningGuest(
                        name: domain.name, uuid: domain.uuid, domain: nil,
                        problems: [Problem(guest: domain.name, cause: error.description)]))
                continue
            }
            guests.append(read(domain))
        }
        return guests
    }

    /// The live XML of `domain`, read.
    func read(_ domain: LibvirtDomain) -> RunningGuest {
        do {
            let description = try domain.domainDescription(.current)
            return RunningGuest(name: domain.name, uuid: domain.uuid, domain: description)
        } catch let refusal as Refusal {
            return RunningGuest(name: domain.name, uuid: domain.uuid, domain: nil, problems: refusal.problems)
        } catch {
            return RunningGuest(
                name: domain.name, uuid: domain.uuid, domain: nil,
                problems: [Problem(guest: domain.name, cause: "\(error)")])
        }
    }
}

extension LibvirtView {
    /// libvirt's view for `vlanwire status`: every running guest's NICs compared with `observed`.
    /// An unreachable libvirt (not installed, not running, no permission) or a failed guest list
    /// gives `.unreachable` with libvirt's message, never an error: the kernel's view stands alone.
    package static func gather(uri: String?, topology: Topology, observed: ObservedState, logger: Logger) -> LibvirtView {
        let connection: LibvirtConnection
        do { connection = try LibvirtConnection(uri: uri, logger: logger) } catch {
            return LibvirtView(
                state: .unreachable, uri: LibvirtConnection.resolveURI(uri, libvirtDefaultURI: defaultURIFromEnvironment),
                error: error.description)
        }
        let guests: [RunningGuest]
        do { guests = try connection.runningGuests() } catch {
            return LibvirtView(state: .unreachable, uri: connection.uri, error: error.description)
        }
        return LibvirtView(
            state: .connected, uri: connection.uri,
            guests: guests.map { guest in
                guard let domain = guest.domain else {
                    return GuestStatus(
                        name: guest.name, uuid: guest.uuid,
                        error: guest.problems.map { ($0.nic.map { "NIC \($0): " } ?? "") + $0.cause }.joined(separator: "; "))
                }
                return GuestStatus.compare(domain, topology: topology, observed: observed)
            })
    }

    static var defaultURIFromEnvironment: String? { getenv("LIBVIRT_DEFAULT_URI").map { String(cString: $0) } }
}
