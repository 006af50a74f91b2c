/// What the kernel has, as vlanwire needs to see it: links, bridges, VLAN legs and port VLANs.
///
/// The netlink layer fills it from one link dump (plus one AF_BRIDGE dump for port VLANs);
/// `vlanwire plan --observed FILE` reads it from JSON (`vlanwire status --json` writes that JSON).
/// Names are kept as the kernel reports them (plain strings): a snapshot must never fail on a
/// link someone else named oddly.
public struct ObservedState: Codable, Equatable, Sendable {
    /// True when this is a full kernel snapshot: a link missing here does not exist. False for
    /// a dry run without `--observed`, where the planner assumes configured uplinks and bridges exist.
    public var complete: Bool
    public var links: [ObservedLink]
    public var capabilities: KernelCapabilities?
    /// `/proc/sys/net/bridge/*`; nil when br_netfilter is not loaded (the files do not exist).
    public var bridgeNetfilter: BridgeNetfilterSysctls?

    public init(
        complete: Bool = false, links: [ObservedLink] = [], capabilities: KernelCapabilities? = nil,
        bridgeNetfilter: BridgeNetfilterSysctls? = nil
    ) {
        self.complete = complete
        self.links = links
        self.capabilities = capabilities
        self.bridgeNetfilter = bridgeNetfilter
    }

    public static let unknown = ObservedState()

    public func link(named name: String) -> ObservedLink? { links.first { $0.name == name } }
    public func link(named name: LinkName) -> ObservedLink? { link(named: name.rawValue) }
    public func link(index: Int32) -> ObservedLink? { links.first { $0.index == index } }
    /// The links enslaved to `bridge`.
    public func ports(of bridge: String) -> [ObservedLink] { links.filter { $0.master == bridge } }
    /// VLAN links whose parent is `parent`.
    public func vlanLegs(on parent: String) -> [ObservedLink] { links.filter { $0.vlan?.parent == parent } }
    /// The link whose MAC is `mac`.
    public func link(withMAC mac: MACAddress) -> ObservedLink? { links.first { $0.mac == mac } }
}

public struct ObservedLink: Codable, Equatable, Sendable {
    public var index: Int32
    public var name: String
    /// rtnetlink link kind (`bridge`, `vlan`, `veth`, `tun`, `bond`, `dummy`, ...); nil for plain devices.
    public var kind: String?
    /// Name of the master (bridge or bond) this link is enslaved to.
    public var master: String?
    /// Administratively up (IFF_UP).
    public var adminUp: Bool
    /// RFC 2863 operational state as the kernel names it: `up`, `down`, `lowerlayerdown`, `unknown`, ...
    public var operState: String
    public var mtu: Int
    public var mac: MACAddress?
    /// IFLA_IFALIAS. vlanwire marks the links it creates with a `LinkMark`.
    public var alias: String?
    public var vlan: VLANLinkInfo?
    public var bridge: BridgeInfo?
    /// Set when the link is a bridge port.
    public var port: BridgePortInfo?

    public init(
        index: Int32, name: String, kind: String? = nil, master: String? = nil, adminUp: Bool = true,
        operState: String = "up", mtu: Int = 1500, mac: MACAddress? = nil, alias: String? = nil,
        vlan: VLANLinkInfo? = nil, bridge: BridgeInfo? = nil, port: BridgePortInfo? = nil
    ) {
        self.index = index
        self.name = name
        self.kind = kind
        self.master = master
        self.adminUp = adminUp
        self.operState = operState
        self.mtu = mtu
        self.mac = mac
        self.alias = alias
        self.vlan = vlan
        self.bridge = bridge
        self.port = port
    }

    public var isBridge: Bool { kind == "bridge" }
    /// Carries a vlanwire creation mark, of any state (see `LinkMark`): for diagnosis.
    public var isMarkedByVLANWire: Bool { alias.map(LinkMark.isMark) ?? false }
    /// Carries `mark`: created by the vlanwire state that owns `mark` (adopted, rebuilt, deleted by it).
    public func isMarked(by mark: LinkMark) -> Bool { alias == mark.alias }
}

public struct VLANLinkInfo: Codable, Equatable, Sendable {
    public var id: VLANID
    /// Name of the link the VLAN leg sits on (the uplink or the trunk bridge).
    public var parent: String
    public init(id: VLANID, parent: String) {
        self.id = id
        self.parent = parent
    }
}

public struct BridgeInfo: Codable, Equatable, Sendable {
    public var vlanFiltering: Bool
    public var stpEnabled: Bool
    /// In hundredths of a second, as `ip -d link` prints it.
    public var forwardDelay: Int
    /// The bridge's own nf_call_iptables/ip6tables/arptables; nil when the kernel does not report them.
    public var nfCallIPTables: Bool?
    public var nfCallIP6Tables: Bool?
    public var nfCallARPTables: Bool?
    /// `vlan_default_pvid`: the VLAN a port gets (PVID, untagged) when it joins; 0 when ports join
    /// with none (vlanwire's fail-closed bridges). nil when the kernel does not report it.
    public var defaultPVID: Int?
    /// The bridge device's own VLANs (`bridge vlan show dev BR`: the host's side, e.g. its address on br0).
    public var selfVLANs: PortVLANs?

    public init(
        vlanFiltering: Bool = false, stpEnabled: Bool = false, forwardDelay: Int = 0,
        nfCallIPTables: Bool? = nil, nfCallIP6Tables: Bool? = nil, nfCallARPTables: Bool? = nil,
        defaultPVID: Int? = nil, selfVLANs: PortVLANs? = nil
    ) {
        self.defaultPVID = defaultPVID
        self.selfVLANs = selfVLANs
        self.vlanFiltering = vlanFiltering
        self.stpEnabled = stpEnabled
        self.forwardDelay = forwardDelay
        self.nfCallIPTables = nfCallIPTables
        self.nfCallIP6Tables = nfCallIP6Tables
        self.nfCallARPTables = nfCallARPTables
    }
}

public struct BridgePortInfo: Codable, Equatable, Sendable {
    /// STP port state: `disabled`, `listening`, `learning`, `forwarding`, `blocking`.
    public var state: String
    /// The port's VLAN membership (nil when unknown: bridge not vlan-filtering or not dumped).
    public var vlans: PortVLANs?

    public init(state: String = "forwarding", vlans: PortVLANs? = nil) {
        self.state = state
        self.vlans = vlans
    }
}

/// A bridge port's VLAN membership, as `bridge vlan show dev PORT` shows it.
public struct PortVLANs: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Every VLAN the port is a member of.
    public var members: VLANSet
    /// The members that leave the port untagged (a subset of `members`).
    public var untagged: VLANSet
    /// The VLAN untagged ingress frames are put in (a member), if any.
    public var pvid: VLANID?

    public init(members: VLANSet = .empty, untagged: VLANSet = .empty, pvid: VLANID? = nil) {
        self.members = members
        self.untagged = untagged.intersection(members)
        self.pvid = pvid.flatMap { members.contains($0) ? $0 : nil }
    }

    /// The membership a port policy asks for: a native-tagged trunk's native VLAN is its PVID
    /// without the untagged flag.
    public init(policy: PortPolicy) {
        self.init(
            members: policy.memberVLANs, untagged: policy.egressUntaggedVLAN.map { VLANSet($0) } ?? .empty,
            pvid: policy.untaggedVLAN)
    }

    /// What a port gets from the kernel when it joins a vlan-filtering bridge (default_pvid 1).
    public static let kernelDefault = PortVLANs(
        members: VLANSet(try! VLANID(1)), untagged: VLANSet(try! VLANID(1)),
        pvid: try! VLANID(1))

    public var tagged: VLANSet { members.subtracting(untagged) }

    public var description: String {
        var parts: [String] = []
        if let pvid { parts.append("pvid \(pvid)") }
        if !untagged.isEmpty { parts.append("untagged \(untagged)") }
        if !tagged.isEmpty { parts.append("tagged \(tagged)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

public struct KernelCapabilities: Codable, Equatable, Sendable {
    /// 802.1Q VLAN links (CONFIG_VLAN_8021Q).
    public var vlan8021Q: Bool
    /// Bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING).
    public var bridgeVLANFiltering: Bool
    public init(vlan8021Q: Bool, bridgeVLANFiltering: Bool) {
        self.vlan8021Q = vlan8021Q
        self.bridgeVLANFiltering = bridgeVLANFiltering
    }

    /// Plain words for what is missing, or nil when nothing is.
    public var missingDescription: String? {
        var missing: [String] = []
        if !vlan8021Q { missing.append("802.1Q VLAN links (CONFIG_VLAN_8021Q, module 8021q)") }
        if !bridgeVLANFiltering { missing.append("bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)") }
        return missing.isEmpty ? nil : "this kernel lacks " + missing.joined(separator: " and ")
    }
}

/// The global bridge netfilter knobs under /proc/sys/net/bridge (present only with br_netfilter).
public struct BridgeNetfilterSysctls: Codable, Equatable, Sendable {
    /// File name (`bridge-nf-call-iptables`, ...) to value.
    public var values: [String: Int]
    public init(values: [String: Int]) { self.values = values }

    public static let names = [
        "bridge-nf-call-iptables", "bridge-nf-call-ip6tables", "bridge-nf-call-arptables",
        "bridge-nf-filter-vlan-tagged", "bridge-nf-filter-pppoe-tagged",
    ]

    /// The knobs that are on (non-zero), in `names` order.
    public var enabled: [String] { Self.names.filter { (values[$0] ?? 0) != 0 } }
}

/// How vlanwire recognises the links it created, even without its state file: the link's alias
/// (IFLA_IFALIAS) names the state that owns the link.
///
/// A network namespace has one state of its own (`/run/vlanwire` for the host's namespace,
/// `/run/vlanwire/netns/NAME` for a named one): its links carry the plain mark `vlanwire`. Any other
/// state directory working in the same namespace (`VLANWIRE_STATE_DIR`: tests, a second vlanwire run
/// by hand) marks its links `vlanwire:DIR`. A state adopts, rebuilds from and deletes only links with
/// its own mark, so two states sharing a namespace never delete each other's links; diagnosis
/// (doctor, status) shows every vlanwire mark.
public struct LinkMark: Hashable, Sendable, CustomStringConvertible {
    /// The mark of a namespace's own state.
    public static let namespaceDefault = LinkMark(alias: "vlanwire")

    /// Written to IFLA_IFALIAS when vlanwire creates a link (`ip link set X alias ALIAS`).
    public let alias: String

    private init(alias: String) { self.alias = alias }

    /// The mark of the state in `stateDirectory`: the plain one for a namespace's own state,
    /// `vlanwire:DIR` for any other (`vlanwire:#HASH` when that would not fit IFALIASZ).
    public init(stateDirectory: String, isNamespaceDefault: Bool) {
        guard !isNamespaceDefault else {
            self = .namespaceDefault
            return
        }
        let alias = "vlanwire:" + stateDirectory
        guard alias.utf8.count > 255 else {
            self.alias = alias
            return
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable across runs, unlike Hasher
        for byte in stateDirectory.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        self.alias = "vlanwire:#" + String(hash, radix: 16)
    }

    /// Whether `alias` is a vlanwire mark of any state.
    public static func isMark(_ alias: String) -> Bool { alias == namespaceDefault.alias || alias.hasPrefix("vlanwire:") }

    /// The state directory a mark names; nil for the namespace's own state (and a hashed name).
    public static func stateDirectory(of alias: String) -> String? {
        guard alias.hasPrefix("vlanwire:/") else { return nil }
        return String(alias.dropFirst("vlanwire:".count))
    }

    public var description: String { alias }
}
