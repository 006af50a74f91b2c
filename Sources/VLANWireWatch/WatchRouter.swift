package import VLANWire
package import VLANWireLibvirt
package import VLANWireNetlink

/// What a burst of changes asks `vlanwire watch` to look at again.
package struct WatchWork: Equatable, Sendable {
    /// Guests to re-plan (by name).
    package var guests: Set<String> = []
    /// A libvirt tap vlanwire does not know appeared or moved: list the running guests to find whose it is.
    package var rescan = false
    /// The MACs of those taps.
    package var unknownTapMACs: Set<MACAddress> = []
    /// Changes were lost (the netlink buffer overflowed, libvirt reconnected): every running guest.
    package var everything = false

    package init(guests: Set<String> = [], unknownTapMACs: Set<MACAddress> = [], everything: Bool = false) {
        self.guests = guests
        self.rescan = !unknownTapMACs.isEmpty
        self.unknownTapMACs = unknownTapMACs
        self.everything = everything
    }

    package var isEmpty: Bool { guests.isEmpty && !rescan && !everything }

    package mutating func merge(_ other: WatchWork) {
        guests.formUnion(other.guests)
        rescan = rescan || other.rescan
        unknownTapMACs.formUnion(other.unknownTapMACs)
        everything = everything || other.everything
    }
}

/// Pure: which guests a kernel or libvirt change concerns, from vlanwire's records (the taps,
/// access bridges, legs and bridges each guest's NICs use) and the running guests' MACs.
package struct WatchRouter: Sendable {
    /// Tap name and ifindex -> guest.
    private var tapOwners: [String: String] = [:]
    private var tapIndexes: [Int32: String] = [:]
    /// Link name -> guests whose NICs depend on it (trunk or access bridge, VLAN leg).
    private var linkUsers: [String: Set<String>] = [:]
    /// Tap MAC (fe:..) of every running guest NIC -> guest, from the last listing.
    private var tapMACOwners: [MACAddress: String] = [:]
    /// The last name announced for each ifindex (bridge VLAN notices carry only the index).
    private var names: [Int32: String] = [:]

    package init() {}

    /// Learns what the state records: after every pass, so the next changes find their guests.
    package mutating func learn(_ state: VLANWireState) {
        tapOwners = [:]
        tapIndexes = [:]
        linkUsers = [:]
        for guest in state.guests {
            for nic in guest.nics {
                if let tap = nic.tap { tapOwners[tap.rawValue] = guest.name }
                if let index = nic.tapIndex { tapIndexes[index] = guest.name }
                for link in [nic.bridge].compactMap({ $0 }) + nic.uses { linkUsers[link.rawValue, default: []].insert(guest.name) }
            }
        }
    }

    /// Learns the running guests' NICs (live XML), to recognise a hot-plugged tap by its MAC.
    package mutating func learn(running: [DomainDescription]) {
        tapMACOwners = [:]
        for domain in running { remember(domain) }
    }

    /// Learns (or refreshes) one guest's NICs.
    package mutating func remember(_ domain: DomainDescription) {
        for interface in domain.interfaces {
            if let mac = interface.mac { tapMACOwners[mac.libvirtTapAddress] = domain.name }
        }
    }

    /// Forgets a guest that stopped.
    package mutating func forget(guest: String) {
        tapMACOwners = tapMACOwners.filter { $0.value != guest }
    }

    /// A link announcement: the guests whose tap or bridge it is; a libvirt tap (MAC fe: or fa:) nobody
    /// records is a hot-plug or a guest vlanwire has not wired yet.
    package mutating func route(_ change: LinkMonitor.Change) -> WatchWork {
        if let name = change.name { names[change.index] = name }
        let name = change.name ?? names[change.index]
        if change.removed { names[change.index] = nil }
        var work = WatchWork()
        if let owner = tapIndexes[change.index] ?? name.flatMap({ tapOwners[$0] }) { work.guests.insert(owner) }
        if let name, let users = linkUsers[name] { work.guests.formUnion(users) }
        guard work.guests.isEmpty, !change.removed, let mac = change.mac, [0xfe, 0xfa].contains(mac.value >> 40) else { return work }
        if let owner = tapMACOwners[mac] {
            work.guests.insert(owner)
        } else {
            work.rescan = true
            work.unknownTapMACs.insert(mac)
        }
        return work
    }

    /// A libvirt event: a hot-plug, an unplug, a vlanwire metadata change, a guest started or
    /// resumed (its hook did the wiring; watch checks it, and wires a guest started without the hook).
    package mutating func route(_ event: DomainEvent) -> WatchWork {
        switch event.kind {
        case .deviceAdded, .deviceRemoved:
            return WatchWork(guests: [event.guest])
        case .metadataChanged(let namespace):
            return namespace == VLANWireMetadata.namespace ? WatchWork(guests: [event.guest]) : WatchWork()
        case .lifecycle(.started), .lifecycle(.resumed):
            return WatchWork(guests: [event.guest])
        case .lifecycle(.stopped), .lifecycle(.undefined), .lifecycle(.crashed):
            forget(guest: event.guest)
            return WatchWork()
        case .lifecycle:
            return WatchWork()
        }
    }
}
