/// One change to the kernel's network state. The planner emits them in order; an executor applies
/// them (netlink) or prints them (`vlanwire plan`). Every case is one iproute2 command's worth.
public enum Action: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Equivalent to: `ip link add NAME type bridge stp_state 0 forward_delay 0 [vlan_filtering 1]`
    /// followed by `ip link set NAME alias vlanwire` (the mark; `vlanwire:DIR` for a state other than
    /// the namespace's own, see `LinkMark`).
    case createBridge(BridgeSpec)
    /// Equivalent to: `ip link add link PARENT name NAME type vlan id VID` + `ip link set NAME alias vlanwire`.
    case createVLANLeg(name: LinkName, parent: LinkName, vid: VLANID)
    /// Equivalent to: `ip link set LINK master BRIDGE`.
    case enslave(link: LinkName, bridge: LinkName)
    /// Equivalent to: `ip link set LINK nomaster`.
    case releaseFromBridge(link: LinkName)
    /// Equivalent to: `ip link set LINK up`.
    case setUp(LinkName)
    /// Equivalent to: `ip link set LINK down`.
    case setDown(LinkName)
    /// Equivalent to: `ip link set BRIDGE type bridge vlan_filtering 1|0`.
    case setVLANFiltering(bridge: LinkName, enabled: Bool)
    /// Equivalent to: `ip link set BRIDGE type bridge nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0`
    /// (or 1).
    case setBridgeNetfilter(bridge: LinkName, enabled: Bool)
    /// Adds VLAN memberships to a bridge port in one message: untagged members with `untagged`,
    /// `pvid` with `pvid`, the rest tagged. Equivalent to: `bridge vlan add dev PORT vid 10-20`
    /// (and `bridge vlan add dev PORT vid 5 pvid untagged`).
    case addPortVLANs(port: LinkName, vlans: PortVLANs)
    /// Removes VLAN memberships from a bridge port in one message.
    /// Equivalent to: `bridge vlan del dev PORT vid 1`.
    case removePortVLANs(port: LinkName, vlans: VLANSet)
    /// Equivalent to: `ip link del NAME`.
    case deleteLink(LinkName)
    /// Equivalent to: `ip link set LINK mtu MTU`. vlanwire raises only links it creates (VLAN legs,
    /// access bridges) to a guest's `<mtu size>`.
    case setMTU(link: LinkName, mtu: Int)
    /// The VLAN a port gets when it joins BRIDGE (`vlan_default_pvid`; nil: none, vlanwire's
    /// fail-closed bridges), changed without touching any port in `keeping` (every port, and the
    /// bridge's own name for its self entry). Set directly, the kernel would strip the old default
    /// from every port still on it, or (from none) add the new one to every port lacking it; it
    /// skips a port that already has the NEW default, and a port whose PVID is not the OLD one, so
    /// the default moves by way of `spare`, a VLAN no port uses: the kept ports get it as a tagged
    /// member, the default moves to it (all skipped), then to `to` (all skipped, none is on
    /// `spare`), and `spare` goes again. One write.
    /// Equivalent to: `bridge vlan add dev PORT vid SPARE` per kept port (`self` for the bridge),
    /// `ip link set BRIDGE type bridge vlan_default_pvid SPARE`, `... vlan_default_pvid TO|0`,
    /// `bridge vlan del dev PORT vid SPARE` per kept port.
    case setDefaultPVID(bridge: LinkName, to: VLANID?, keeping: [LinkName], spare: VLANID)

    /// The iproute2 command(s) this action stands for (what an admin would type).
    public var description: String {
        switch self {
        case .createBridge(let spec):
            "ip link add \(spec.name) type bridge stp_state \(spec.stp ? 1 : 0) forward_delay \(spec.forwardDelay)"
                + (spec.vlanFiltering ? " vlan_filtering 1" : "")
                + (spec.netfilterOff ? " nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0" : "")
                + "; ip link set \(spec.name) alias \(LinkMark.namespaceDefault)"
        case .createVLANLeg(let name, let parent, let vid):
            "ip link add link \(parent) name \(name) type vlan id \(vid); ip link set \(name) alias \(LinkMark.namespaceDefault)"
        case .enslave(let link, let bridge): "ip link set \(link) master \(bridge)"
        case .releaseFromBridge(let link): "ip link set \(link) nomaster"
        case .setUp(let link): "ip link set \(link) up"
        case .setDown(let link): "ip link set \(link) down"
        case .setVLANFiltering(let bridge, let enabled):
            "ip link set \(bridge) type bridge vlan_filtering \(enabled ? 1 : 0)"
        case .setBridgeNetfilter(let bridge, let enabled):
            "ip link set \(bridge) type bridge nf_call_iptables \(enabled ? 1 : 0) nf_call_ip6tables \(enabled ? 1 : 0) nf_call_arptables \(enabled ? 1 : 0)"
        case .addPortVLANs(let port, let vlans):
            Self.bridgeVLANAddCommands(port: port, vlans: vlans).joined(separator: "; ")
        case .removePortVLANs(let port, let vlans):
            vlans.ranges.map { "bridge vlan del dev \(port) vid \(Self.rangeText($0))" }.joined(separator: "; ")
        case .deleteLink(let link): "ip link del \(link)"
        case .setMTU(let link, let mtu): "ip link set \(link) mtu \(mtu)"
        case .setDefaultPVID(let bridge, let to, let keeping, let spare):
            (keeping.map { "bridge vlan add dev \($0) vid \(spare)" + ($0 == bridge ? " self" : "") }
                + ["ip link set \(bridge) type bridge vlan_default_pvid \(spare)"]
                + ["ip link set \(bridge) type bridge vlan_default_pvid \(to.map { "\($0)" } ?? "0")"]
                + keeping.map { "bridge vlan del dev \($0) vid \(spare)" + ($0 == bridge ? " self" : "") })
                .joined(separator: "; ")
        }
    }

    /// The links this action touches (for error messages and logs).
    public var links: [LinkName] {
        switch self {
        case .createBridge(let spec): [spec.name]
        case .createVLANLeg(let name, let parent, _): [name, parent]
        case .enslave(let link, let bridge): [link, bridge]
        case .releaseFromBridge(let link), .setUp(let link), .setDown(let link), .deleteLink(let link), .setMTU(let link, _): [link]
        case .setVLANFiltering(let bridge, _), .setBridgeNetfilter(let bridge, _): [bridge]
        case .addPortVLANs(let port, _), .removePortVLANs(let port, _): [port]
        case .setDefaultPVID(let bridge, _, let keeping, _): [bridge] + keeping.filter { $0 != bridge }
        }
    }

    static func rangeText(_ range: ClosedRange<VLANID>) -> String {
        range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)"
    }

    /// `bridge vlan add` lines, one per range with uniform flags.
    static func bridgeVLANAddCommands(port: LinkName, vlans: PortVLANs) -> [String] {
        vlans.entries.map { entry in
            "bridge vlan add dev \(port) vid \(rangeText(entry.range))" + (entry.pvid ? " pvid" : "")
                + (entry.untagged ? " untagged" : "")
        }
    }
}

/// A bridge vlanwire creates.
public struct BridgeSpec: Hashable, Sendable, Codable {
    public var name: LinkName
    public var vlanFiltering: Bool
    public var stp: Bool
    /// Hundredths of a second (`ip link ... forward_delay`), 0 unless config says otherwise.
    public var forwardDelay: Int
    /// Turn the bridge's own nf_call_iptables/ip6tables/arptables off.
    public var netfilterOff: Bool

    public init(
        name: LinkName, vlanFiltering: Bool = false, stp: Bool = false, forwardDelay: Int = 0,
        netfilterOff: Bool = false
    ) {
        self.name = name
        self.vlanFiltering = vlanFiltering
        self.stp = stp
        self.forwardDelay = forwardDelay
        self.netfilterOff = netfilterOff
    }
}

extension PortVLANs {
    /// One entry of a port VLAN message: a range whose VLANs share the same flags.
    public struct Entry: Hashable, Sendable {
        public var range: ClosedRange<VLANID>
        public var pvid: Bool
        public var untagged: Bool
    }

    /// The membership as ranges with uniform flags, in VLAN order: what one netlink message
    /// carries (BRIDGE_VLAN_INFO_RANGE_BEGIN/END pairs, single entries for lone VLANs).
    public var entries: [Entry] {
        var result: [Entry] = []
        for range in members.ranges {
            // Split the member range where untagged-ness or pvid changes.
            let pieces = VLANSet(ranges: [range])
            let untaggedPart = pieces.intersection(untagged)
            var boundaries: [(ClosedRange<VLANID>, Bool)] = untaggedPart.ranges.map { ($0, true) }
            boundaries += pieces.subtracting(untagged).ranges.map { ($0, false) }
            boundaries.sort { $0.0.lowerBound < $1.0.lowerBound }
            for (piece, isUntagged) in boundaries {
                if let pvid, piece.contains(pvid) {
                    // The PVID is always its own entry: the kernel refuses PVID on a range.
                    let low = piece.lowerBound.value
                    let high = piece.upperBound.value
                    let p = pvid.value
                    if low < p { result.append(Entry(range: VLANID(trusted: low)...VLANID(trusted: p - 1), pvid: false, untagged: isUntagged)) }
                    result.append(Entry(range: pvid...pvid, pvid: true, untagged: isUntagged))
                    if p < high { result.append(Entry(range: VLANID(trusted: p + 1)...VLANID(trusted: high), pvid: false, untagged: isUntagged)) }
                } else {
                    result.append(Entry(range: piece, pvid: false, untagged: isUntagged))
                }
            }
        }
        return result
    }
}
