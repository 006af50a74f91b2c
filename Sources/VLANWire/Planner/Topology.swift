/// The uplinks and networks vlanwire works with: from the config file, or inferred from the kernel.
public struct Topology: Equatable, Sendable {
    public var uplinks: [Uplink]
    public var networks: [NetworkMapping]
    /// True when read from a config file; false when inferred.
    public var configured: Bool

    /// What a bridge name means to vlanwire.
    public enum BridgeRole: Equatable, Sendable {
        /// The uplink's trunk bridge.
        case trunk(Uplink)
        /// A classic access bridge of `vid` on the uplink.
        case access(Uplink, VLANID)
    }

    public init(uplinks: [Uplink], networks: [NetworkMapping] = [], configured: Bool) {
        self.uplinks = uplinks
        self.networks = networks
        self.configured = configured
    }

    /// The config's uplinks; without a config, one uplink per bridge in the kernel:
    /// a `vlan_filtering` bridge is vlan-aware; a bridge named `<trunk>v<vid>` whose `<trunk>`
    /// bridge exists is a classic access bridge; any other bridge is a classic trunk bridge.
    /// A config file without an `[[uplink]]` (the Debian package's example, all comments) is no
    /// config: the same inference as without the file, so shipping it changes nothing.
    public static func resolve(config: HostConfig?, observed: ObservedState) -> Topology {
        if let config, !config.uplinks.isEmpty {
            return Topology(uplinks: config.uplinks, networks: config.networks, configured: true)
        }
        let bridges = observed.links.filter(\.isBridge)
        let bridgeNames = Set(bridges.map(\.name))
        var uplinks: [Uplink] = []
        for bridge in bridges {
            if let (trunk, _) = splitAccessBridgeName(bridge.name), bridgeNames.contains(trunk) { continue }
            guard let name = try? LinkName(bridge.name) else { continue }
            uplinks.append(
                inferredUplink(
                    bridge: name, observed: observed,
                    vlanAware: bridge.bridge?.vlanFiltering ?? false))
        }
        return Topology(uplinks: uplinks, networks: [], configured: false)
    }

    static func inferredUplink(bridge: LinkName, observed: ObservedState, vlanAware: Bool) -> Uplink {
        // The uplink is the one port that is neither a tap nor a VLAN leg, when there is exactly one.
        let candidates = observed.ports(of: bridge.rawValue).filter { $0.kind != "tun" && $0.kind != "vlan" }
        let interface = candidates.count == 1 ? try? LinkName(candidates[0].name) : nil
        return Uplink(
            interface: interface, bridge: bridge, mode: vlanAware ? .vlanAware : .classic,
            accessBridgeTemplate: "{bridge}v{vid}", inferred: true)
    }

    /// `br0v5` -> (`br0`, 5).
    static func splitAccessBridgeName(_ name: String) -> (String, VLANID)? {
        guard let v = name.lastIndex(of: "v"), v != name.startIndex else { return nil }
        let digits = name[name.index(after: v)...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let vid = try? VLANID(parsing: digits) else { return nil }
        return (String(name[..<v]), vid)
    }

    /// The role of bridge `name`, or nil when vlanwire does not manage it. Without a config and
    /// without a full kernel snapshot (a dry run), an unknown bridge is assumed classic.
    public func role(ofBridge name: String, observed: ObservedState) -> BridgeRole? {
        for uplink in uplinks where uplink.bridge?.rawValue == name { return .trunk(uplink) }
        for uplink in uplinks where uplink.mode == .classic {
            if let vid = LinkNaming.accessVLAN(ofBridge: name, uplink: uplink) { return .access(uplink, vid) }
        }
        guard !configured, !observed.complete, let bridge = try? LinkName(name) else { return nil }
        if let (trunk, vid) = Self.splitAccessBridgeName(name), let trunkName = try? LinkName(trunk) {
            return .access(Uplink(interface: nil, bridge: trunkName, mode: .classic, inferred: true), vid)
        }
        return .trunk(Uplink(interface: nil, bridge: bridge, mode: .classic, inferred: true))
    }

    public func uplink(named name: LinkName) -> Uplink? {
        uplinks.first { $0.interface == name } ?? uplinks.first { $0.bridge == name }
    }

    public func network(named name: String) -> NetworkMapping? { networks.first { $0.name == name } }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
