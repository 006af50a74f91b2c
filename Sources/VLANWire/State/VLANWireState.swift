/// What vlanwire remembers between hook runs: the links it created, which guests use them, and each
/// guest's NICs. It lives in /run (`/run/vlanwire`) because the links do not survive a reboot either.
///
/// On disk (`StateStore`): the host's part — created links and their users — in `state.json`, and
/// one file per guest in `guests/`, so a hook run reads and writes only its own guest. `guests`
/// holds every guest's record when the whole state was loaded (`status`, `reconcile`, `watch`), or
/// only the record of the guest a hook run is for; `linkUsers` always covers every guest.
public struct VLANWireState: Equatable, Sendable {
    public static let currentVersion = 2

    public var version: Int
    public var createdLinks: [CreatedLink]
    public var guests: [GuestRecord]
    /// For every link some guest's NIC uses, those guests (by name). Kept for all guests, also
    /// when `guests` holds only one: it is what a release asks before deleting a link.
    public var linkUsers: [LinkUsers]
    /// Set when the state was rebuilt from the kernel's marks because the file was missing or
    /// unreadable: the users of those links are unknown, so nothing is deleted until a
    /// `vlanwire reconcile` (which asks libvirt for the running guests) rebuilds the records.
    public var usersUnknown: Bool

    /// A state whose link users are those of `guests`.
    public init(createdLinks: [CreatedLink] = [], guests: [GuestRecord] = [], usersUnknown: Bool = false) {
        version = Self.currentVersion
        self.createdLinks = createdLinks
        self.guests = guests
        self.linkUsers = Self.users(of: guests)
        self.usersUnknown = usersUnknown
    }

    public static let empty = VLANWireState()

    public func created(_ name: LinkName) -> CreatedLink? { createdLinks.first { $0.name == name } }
    public func guest(named name: String) -> GuestRecord? { guests.first { $0.name == name } }

    /// Every link some guest's NIC uses.
    public var linksInUse: Set<LinkName> { Set(linkUsers.lazy.filter { !$0.guests.isEmpty }.map(\.link)) }

    /// Links some guest other than `guest` uses.
    public func linksInUse(besides guest: String) -> Set<LinkName> {
        Set(linkUsers.lazy.filter { $0.guests.contains { $0 != guest } }.map(\.link))
    }

    /// The users of every link `guests` use, sorted by link and by guest (so equal states encode alike).
    static func users(of guests: [GuestRecord]) -> [LinkUsers] {
        var users: [LinkUsers] = []
        for guest in guests {
            for link in guest.nics.flatMap(\.uses) { users.adding(guest.name, to: link) }
        }
        return users
    }

    /// Replaces the link users with those of `guests`: only where `guests` is every guest (a
    /// reconcile, which read the whole state and asked libvirt for the running guests).
    public mutating func recountUsers() { linkUsers = Self.users(of: guests) }

    /// Rebuilds what can be known from the kernel alone: links carrying this state's mark.
    public static func rebuilt(from observed: ObservedState, mark: LinkMark) -> VLANWireState {
        let marked = observed.links.filter { $0.isMarked(by: mark) }.compactMap { link -> CreatedLink? in
            guard let name = try? LinkName(link.name) else { return nil }
            return CreatedLink(name: name, index: link.index, kind: link.kind ?? "unknown")
        }
        // Users are unknown only when there is something whose users could be unknown: a first run
        // on a fresh host (no file, no marked link) starts a state that may delete what it creates.
        return VLANWireState(createdLinks: marked, usersUnknown: !marked.isEmpty)
    }
}

/// The guests using one link (`VLANWireState.linkUsers`).
public struct LinkUsers: Equatable, Sendable {
    public var link: LinkName
    /// Guest names, sorted.
    public var guests: [String]
    public init(link: LinkName, guests: [String]) {
        self.link = link
        self.guests = guests
    }
}

extension [LinkUsers] {
    /// Adds `guest` to the users of `link`, keeping links and guests sorted.
    package mutating func adding(_ guest: String, to link: LinkName) {
        let at = firstIndex { !($0.link.rawValue < link.rawValue) } ?? endIndex
        if at < endIndex, self[at].link == link {
            let position = self[at].guests.firstIndex { !($0 < guest) } ?? self[at].guests.endIndex
            if position == self[at].guests.endIndex || self[at].guests[position] != guest { self[at].guests.insert(guest, at: position) }
        } else {
            insert(LinkUsers(link: link, guests: [guest]), at: at)
        }
    }

    /// Removes `guest` from every link's users, and links nobody uses any more.
    package mutating func removing(_ guest: String) {
        for index in indices { self[index].guests.removeAll { $0 == guest } }
        removeAll { $0.guests.isEmpty }
    }
}

extension VLANWireState {
    /// Links carrying this state's mark that the state does not list: a run killed (SIGKILL) after
    /// creating them and before storing its state (every run records what it created before it
    /// releases the lock, so under the lock nothing else can explain them). Adopted as created, so
    /// a later release can delete them once nothing uses them. A link without the mark is never
    /// adopted (a killed run can leak an unmarked link, never make vlanwire delete a foreign one),
    /// nor one with another state's mark (that state's runs hold another lock: see `LinkMark`).
    public func adoptingOrphans(in observed: ObservedState, mark: LinkMark) -> (state: VLANWireState, adopted: [LinkName]) {
        var next = self
        var adopted: [LinkName] = []
        for link in observed.links where link.isMarked(by: mark) {
            guard let name = try? LinkName(link.name), created(name) == nil else { continue }
            next.createdLinks.append(CreatedLink(name: name, index: link.index, kind: link.kind ?? "unknown"))
            adopted.append(name)
        }
        return (next, adopted)
    }
}

/// A link vlanwire created. The ifindex tells it apart from a same-named link made later by someone else.
public struct CreatedLink: Codable, Equatable, Sendable {
    public var name: LinkName
    public var index: Int32
    /// `bridge` or `vlan`.
    public var kind: String
    public init(name: LinkName, index: Int32, kind: String) {
        self.name = name
        self.index = index
        self.kind = kind
    }
}

public struct GuestRecord: Codable, Equatable, Sendable {
    public var name: String
    public var uuid: String?
    public var nics: [NICRecord]

    /// Recorded by `prepare` and not yet by `start`: its NICs have policies but no taps yet, so
    /// its hook is starting it (watch leaves it to the hook).
    public var isStarting: Bool { !nics.isEmpty && nics.allSatisfy { $0.tap == nil } }
    public init(name: String, uuid: String? = nil, nics: [NICRecord] = []) {
        self.name = name
        self.uuid = uuid
        self.nics = nics
    }
}

public struct NICRecord: Codable, Equatable, Sendable {
    public var mac: MACAddress
    public var policy: PortPolicy?
    /// The bridge the NIC's tap belongs in.
    public var bridge: LinkName?
    /// Links the NIC depends on that vlanwire may have created (access bridge, VLAN leg).
    public var uses: [LinkName]
    /// The tap, once wired (`start`), with its ifindex.
    public var tap: LinkName?
    public var tapIndex: Int32?
    /// Port VLANs vlanwire set on the tap (vlan-aware mode), removed again on release if the tap remains.
    public var portVLANs: PortVLANs?

    public init(
        mac: MACAddress, policy: PortPolicy?, bridge: LinkName?, uses: [LinkName] = [], tap: LinkName? = nil,
        tapIndex: Int32? = nil, portVLANs: PortVLANs? = nil
    ) {
        self.mac = mac
        self.policy = policy
        self.bridge = bridge
        self.uses = uses
        self.tap = tap
        self.tapIndex = tapIndex
        self.portVLANs = portVLANs
    }
}
