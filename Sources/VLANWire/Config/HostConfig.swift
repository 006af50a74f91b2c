/// How an uplink's VLANs reach guests.
public enum UplinkMode: String, Codable, Sendable, CaseIterable {
    /// One `vlan_filtering` trunk bridge; per-port VLAN membership (recommended).
    case vlanAware = "vlan-aware"
    /// The seed's layout: one access bridge per VLAN, fed by a VLAN leg; trunk guests see everything.
    case classic
}

/// One uplink: a host NIC (or bond) carrying tagged traffic, and how vlanwire uses it.
public struct Uplink: Equatable, Sendable, Codable {
    /// The host NIC. Never created or deleted by vlanwire. Nil when inferred from a bridge whose
    /// uplink port could not be told apart from guest ports.
    public var interface: LinkName?
    /// The trunk bridge with the uplink as a port; nil in pure access layouts (eth0 -> eth0.5 -> br05).
    public var bridge: LinkName?
    public var mode: UplinkMode
    /// VLANs the uplink carries (and, vlan-aware, that vlanwire puts on the uplink port, tagged).
    public var vlans: VLANSet
    /// The VLAN the uplink carries untagged, if the admin says so.
    public var nativeVLAN: VLANID?
    /// Classic mode: access bridge name template with `{bridge}`, `{interface}` and `{vid}`.
    public var accessBridgeTemplate: String
    /// Rule 5: the policy of NICs on this uplink's bridge that nothing else gives a policy.
    public var defaultPolicy: PortPolicy?
    /// Classic mode: VLANs that `vlanwire networks` writes an access network for.
    public var accessNetworks: VLANSet
    public var stp: Bool
    /// Hundredths of a second.
    public var forwardDelay: Int
    /// Turn off nf_call_iptables/ip6tables/arptables on bridges vlanwire creates or manages.
    public var netfilterOff: Bool
    /// True when vlanwire inferred this uplink from the kernel (no config file).
    public var inferred: Bool
    /// vlan-aware: a port that joins the trunk bridge carries no VLAN until vlanwire wires it
    /// (the bridge's `vlan_default_pvid` is 0), instead of the kernel's default VLAN 1 untagged.
    /// On by default for configured vlan-aware uplinks; inferred ones leave the bridge's default alone.
    public var failClosed: Bool

    public init(
        interface: LinkName?, bridge: LinkName?, mode: UplinkMode, vlans: VLANSet = .all,
        nativeVLAN: VLANID? = nil, accessBridgeTemplate: String? = nil, defaultPolicy: PortPolicy? = nil,
        accessNetworks: VLANSet = .empty, stp: Bool = false, forwardDelay: Int = 0,
        netfilterOff: Bool = false, inferred: Bool = false, failClosed: Bool? = nil
    ) {
        self.failClosed = failClosed ?? (mode == .vlanAware && !inferred)
        self.interface = interface
        self.bridge = bridge
        self.mode = mode
        self.vlans = vlans
        self.nativeVLAN = nativeVLAN
        self.accessBridgeTemplate = accessBridgeTemplate ?? (bridge == nil ? "{interface}v{vid}" : "{bridge}v{vid}")
        self.defaultPolicy = defaultPolicy
        self.accessNetworks = accessNetworks
        self.stp = stp
        self.forwardDelay = forwardDelay
        self.netfilterOff = netfilterOff
        self.inferred = inferred
    }

    /// What this uplink is called in messages: `eth0 (bridge br0)`.
    public var label: String {
        switch (interface, bridge) {
        case (let interface?, let bridge?): "\(interface) (bridge \(bridge))"
        case (let interface?, nil): interface.rawValue
        case (nil, let bridge?): "bridge \(bridge)"
        case (nil, nil): "uplink"
        }
    }
}

/// A libvirt network vlanwire maps to an uplink, with per-portgroup policies.
public struct NetworkMapping: Equatable, Sendable, Codable {
    public var name: String
    /// The uplink's interface (or bridge) name this network rides on.
    public var uplink: LinkName
    public var portgroups: [String: PortPolicy]
    /// The portgroup libvirt marks `default='yes'` (and vlanwire uses when a NIC names none).
    public var defaultPortgroup: String?
    /// Policy for NICs on this network without a portgroup (and without a default portgroup).
    public var defaultPolicy: PortPolicy?

    public init(
        name: String, uplink: LinkName, portgroups: [String: PortPolicy] = [:],
        defaultPortgroup: String? = nil, defaultPolicy: PortPolicy? = nil
    ) {
        self.name = name
        self.uplink = uplink
        self.portgroups = portgroups
        self.defaultPortgroup = defaultPortgroup
        self.defaultPolicy = defaultPolicy
    }
}

/// vlanwire's host configuration (`/etc/vlanwire/vlanwire.toml`).
public struct HostConfig: Equatable, Sendable, Codable {
    public static let defaultPath = "/etc/vlanwire/vlanwire.toml"

    public var uplinks: [Uplink]
    public var networks: [NetworkMapping]
    /// Where it was read from, for messages.
    public var path: String?

    public init(uplinks: [Uplink] = [], networks: [NetworkMapping] = [], path: String? = nil) {
        self.uplinks = uplinks
        self.networks = networks
        self.path = path
    }

    public func uplink(named name: LinkName) -> Uplink? {
        uplinks.first { $0.interface == name } ?? uplinks.first { $0.bridge == name }
    }

    public func network(named name: String) -> NetworkMapping? { networks.first { $0.name == name } }
}

/// A config file problem: the file, the key, and what is wrong with it.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    /// Dotted path such as `uplink[1].vlans`; nil for whole-file problems.
    public var key: String?
    public var message: String

    public init(file: String, key: String?, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String {
        "\(file)" + (key.map { ": \($0)" } ?? "") + ": \(message)"
    }
}
