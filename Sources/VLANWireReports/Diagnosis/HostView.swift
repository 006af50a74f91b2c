import VLANWire

/// The questions `doctor` and `trace` ask of a kernel snapshot and the topology: where a guest
/// NIC's tap is, which port of a bridge is its uplink, which links a guest's frames cross.
struct HostView {
    let observed: ObservedState
    let topology: Topology

    /// The NIC's tap (`NICAudit.locateTap`). Nil when the guest is not running here.
    func tap(of interface: DomainInterface) -> ObservedLink? {
        NICAudit.locateTap(interface, observed: observed).tap?.link
    }

    /// The bridge's uplink port: the configured uplink's interface when it is a port of `bridge`,
    /// else its only port that is neither a VLAN leg, a bridge, nor one of `guestPorts`.
    func uplinkPort(of bridge: String, guestPorts: Set<String> = []) -> ObservedLink? {
        let ports = observed.ports(of: bridge)
        if let configured = topology.uplinks.first(where: { $0.bridge?.rawValue == bridge })?.interface,
            let port = ports.first(where: { $0.name == configured.rawValue })
        {
            return port
        }
        let candidates = ports.filter { $0.vlan == nil && !$0.isBridge && $0.kind != "tun" && !guestPorts.contains($0.name) }
        return candidates.count == 1 ? candidates[0] : nil
    }

    /// The VLAN legs that feed `bridge`: its ports that are VLAN links.
    func feedingLegs(of bridge: String) -> [ObservedLink] {
        observed.ports(of: bridge).filter { $0.vlan != nil }
    }

    /// The guest-facing ports of a bridge: every port that is neither a VLAN leg nor its uplink.
    /// A bridge fed by VLAN legs (an access bridge) has no other uplink: all its other ports face guests.
    func guestPorts(of bridge: String) -> [ObservedLink] {
        let uplink = feedingLegs(of: bridge).isEmpty ? uplinkPort(of: bridge)?.name : nil
        return observed.ports(of: bridge).filter { $0.vlan == nil && $0.name != uplink && !$0.isBridge }
    }

    /// Bridges that carry VLANs: configured trunk bridges, access bridges, vlan-filtering bridges,
    /// and bridges with a VLAN leg on them or among their ports. (A plain bridge such as libvirt's
    /// NAT bridge is none of these.)
    var vlanBridges: [ObservedLink] {
        observed.links.filter(\.isBridge).filter { bridge in
            if bridge.bridge?.vlanFiltering == true { return true }
            if topology.configured, topology.uplinks.contains(where: { $0.bridge?.rawValue == bridge.name }) { return true }
            if case .access? = topology.role(ofBridge: bridge.name, observed: observed) { return true }
            return !observed.vlanLegs(on: bridge.name).isEmpty || !feedingLegs(of: bridge.name).isEmpty
        }
    }

    /// The links frames of guests can cross: uplinks, their bridges and every port of them,
    /// VLAN legs on uplinks and trunk bridges, access bridges and their ports.
    var guestPathLinks: [ObservedLink] {
        var names: [String] = []
        func add(_ name: String?) {
            guard let name, observed.link(named: name) != nil, !names.contains(name) else { return }
            names.append(name)
        }
        for uplink in topology.uplinks {
            add(uplink.interface?.rawValue)
            add(uplink.bridge?.rawValue)
        }
        for bridge in vlanBridges { add(bridge.name) }
        for name in names {
            for leg in observed.vlanLegs(on: name) {
                add(leg.name)
                if let access = leg.master { add(access) }
            }
        }
        for name in names where observed.link(named: name)?.isBridge == true {
            for port in observed.ports(of: name) { add(port.name) }
        }
        return names.compactMap { observed.link(named: $0) }
    }

    /// The policy a NIC asks for, before vlanwire checks it against the uplink (rules 2, 4 and 5
    /// of the README's "How a NIC gets its VLANs"; rule 3, an access bridge, cannot ask for a trunk): what `doctor` and `trace`
    /// explain when vlanwire refuses the NIC.
    func requestedPolicy(of interface: DomainInterface, guest: DomainDescription, uplink: Uplink) -> PortPolicy? {
        if let mac = interface.mac, let policy = guest.metadata[mac] { return policy }
        if let name = interface.sourceNetwork, let network = topology.network(named: name) {
            if let portgroup = interface.portgroup ?? network.defaultPortgroup { return network.portgroups[portgroup] }
            if let policy = network.defaultPolicy { return policy }
        }
        return uplink.defaultPolicy
    }

    /// The trunk bridge a NIC's source names, with its uplink: the bridge of `<source bridge>`, or of
    /// the network's uplink.
    func trunkRole(of interface: DomainInterface) -> Uplink? {
        if let bridge = interface.sourceBridge, case .trunk(let uplink)? = topology.role(ofBridge: bridge, observed: observed) {
            return uplink
        }
        if interface.sourceBridge == nil, let name = interface.sourceNetwork, let network = topology.network(named: name) {
            return topology.uplink(named: network.uplink)
        }
        return nil
    }
}

extension ObservedLink {
    /// Administratively up and not reported down by the kernel (`unknown` is normal for taps and dummies).
    var isPassing: Bool { adminUp && !["down", "lowerlayerdown", "notpresent", "dormant"].contains(operState) }

    /// `up`, `down (admin)`, `down (no carrier)`, ... for tables.
    var stateText: String {
        guard adminUp else { return "down (admin)" }
        switch operState {
        case "up", "unknown": return "up"
        case "down": return "down (no carrier)"
        case "lowerlayerdown": return "down (lower link down)"
        default: return operState
        }
    }
}
