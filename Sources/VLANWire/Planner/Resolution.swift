/// Where a NIC's policy came from (README, "How a NIC gets its VLANs": first match wins).
public enum PolicySource: Equatable, Sendable, Codable, CustomStringConvertible {
    case metadata
    case accessBridge(String)
    case portgroup(network: String, portgroup: String)
    case networkDefault(String)
    case bridgeDefault(String)
    /// libvirt's own `<vlan>` (libvirt >= 11 applies it to the tap itself): vlanwire audits and
    /// repairs it as the policy it is, on a vlan-aware bridge only.
    case libvirtVLAN
    /// Nothing gives a policy: vlanwire changes nothing (least privilege).
    case kernelDefault

    public var description: String {
        switch self {
        case .metadata: "vlanwire metadata"
        case .accessBridge(let bridge): "access bridge \(bridge)"
        case .portgroup(let network, let portgroup): "network \(network) portgroup \(portgroup)"
        case .networkDefault(let network): "network \(network) default"
        case .bridgeDefault(let bridge): "bridge \(bridge) default"
        case .libvirtVLAN: "libvirt <vlan>"
        case .kernelDefault: "kernel default"
        }
    }
}

/// A guest NIC as vlanwire understands it: managed or not, its policy, its uplink and the bridge its tap belongs in.
public struct ResolvedNIC: Equatable, Sendable {
    public var interface: DomainInterface
    /// Nil when vlanwire leaves the NIC alone; the reason says why.
    public var wiring: Wiring?
    public var unmanagedReason: String?

    public struct Wiring: Equatable, Sendable {
        public var uplink: Uplink
        public var policy: PortPolicy?
        public var source: PolicySource
        /// Where the tap must be: the trunk bridge, or (classic access) the access bridge.
        public var bridge: LinkName
        /// Classic access: the access bridge and its VLAN leg.
        public var accessPath: AccessPath?
    }

    public struct AccessPath: Equatable, Sendable {
        public var vid: VLANID
        public var bridge: LinkName
        public var leg: LinkName
        /// The trunk bridge (uplink in a bridge) or the uplink itself.
        public var legParent: LinkName
    }
}

extension ResolvedNIC {
    /// A NIC with libvirt's own `<vlan>`: libvirt (>= 11) writes its port VLANs, and vlanwire's
    /// metadata never overrides them. On a vlan-aware bridge the `<vlan>` is the NIC's policy (so
    /// status and doctor audit it, watch repairs its drift, the hook's result equals libvirt's);
    /// anywhere else, or where vlanwire would refuse it, the NIC is libvirt's alone: a `<vlan>` never
    /// stops a guest from starting.
    static func resolve(
        libvirtVLAN vlan: LibvirtVLAN, _ interface: DomainInterface, guest: DomainDescription, topology: Topology,
        observed: ObservedState
    ) -> Result<ResolvedNIC, Problem> {
        let leftToLibvirt = Result<ResolvedNIC, Problem>.success(
            ResolvedNIC(interface: interface, wiring: nil, unmanagedReason: "carries libvirt's own <vlan>, which libvirt applies itself"))
        guard let mac = interface.mac, let policy = vlan.portPolicy else { return leftToLibvirt }
        var plain = interface
        plain.libvirtVLAN = nil
        var asMetadata = guest
        asMetadata.metadata[mac] = policy
        guard case .success(var nic) = resolve(plain, guest: asMetadata, topology: topology, observed: observed),
            var wiring = nic.wiring, wiring.uplink.mode == .vlanAware, wiring.policy == policy
        else { return leftToLibvirt }
        wiring.source = .libvirtVLAN
        nic.interface = interface
        nic.wiring = wiring
        return .success(nic)
    }

    /// Resolves one NIC. Problems are returned, never thrown, so every NIC of a guest is reported.
    package static func resolve(
        _ interface: DomainInterface, guest: DomainDescription, topology: Topology,
        observed: ObservedState
    ) -> Result<ResolvedNIC, Problem> {
        func problem(_ cause: String, fix: String? = nil) -> Result<ResolvedNIC, Problem> {
            .failure(Problem(guest: guest.name, nic: interface.label, cause: cause, fix: fix))
        }
        func unmanaged(_ reason: String) -> Result<ResolvedNIC, Problem> {
            .success(ResolvedNIC(interface: interface, wiring: nil, unmanagedReason: reason))
        }
        let metadataPolicy = interface.mac.flatMap { guest.metadata[$0] }

        // Rule 1: interfaces someone else wires.
        guard interface.type == "bridge" || interface.type == "network" else {
            if metadataPolicy != nil {
                return problem(
                    "vlanwire metadata on a type='\(interface.type)' interface, which is not a Linux bridge port",
                    fix: "remove the metadata entry, or use <interface type='bridge'>")
            }
            return unmanaged("type '\(interface.type)' is not a Linux bridge port")
        }
        if let virtualPort = interface.virtualPortType {
            if metadataPolicy != nil {
                return problem(
                    "vlanwire metadata on a \(virtualPort) port: VLANs there are set with libvirt's own <vlan>",
                    fix: "move the VLANs into the interface's <vlan> element and remove the metadata entry")
            }
            return unmanaged("\(virtualPort) port: its switch applies VLANs itself")
        }
        if let vlan = interface.libvirtVLAN {
            return resolve(libvirtVLAN: vlan, interface, guest: guest, topology: topology, observed: observed)
        }

        // Which bridge, and what it means.
        var network: NetworkMapping?
        // A network NIC is type='network' at prepare and release, but type='bridge' with the network's
        // bridge added while the guest runs: the <source network> is what identifies it.
        if interface.type == "network", interface.sourceNetwork == nil {
            return problem("type='network' interface without <source network>")
        }
        if let name = interface.sourceNetwork {
            network = topology.network(named: name)
            if network == nil, interface.sourceBridge == nil {
                if metadataPolicy != nil {
                    return problem(
                        "network '\(name.escapedForDisplay)' is not in vlanwire's config, so its uplink is unknown",
                        fix: "add a [[network]] with name = \"\(name.escapedForDisplay)\" and its uplink to the config")
                }
                return unmanaged("network '\(name.escapedForDisplay)' is not mapped in vlanwire's config")
            }
        }
        // The tap's name reaches netlink requests and log lines at start: refused at every phase
        // (prepare too), not only when the tap is looked up.
        if let target = interface.targetDevice {
            do { _ = try LinkName(target) } catch {
                return problem("target dev: \(error.description)", fix: "remove <target dev> and let libvirt name the tap")
            }
        }
        var role: Topology.BridgeRole?
        var bridgeText = interface.sourceBridge
        if let bridgeText {
            do { _ = try LinkName(bridgeText) } catch {
                return problem("source bridge: \(error.description)", fix: "use the name of an existing bridge")
            }
            role = topology.role(ofBridge: bridgeText, observed: observed)
        }
        if let network {
            guard let uplink = topology.uplink(named: network.uplink) else {
                return problem("network '\(network.name)' rides on uplink \(network.uplink), which is not configured")
            }
            if role == nil {
                role = .trunk(uplink)
                bridgeText = uplink.bridge?.rawValue ?? bridgeText
            }
        }
        guard let role else {
            let bridge = (bridgeText ?? "?").escapedForDisplay
            if metadataPolicy != nil {
                return problem(
                    "bridge \(bridge) is neither a vlanwire trunk bridge nor an access bridge",
                    fix: topology.configured
                        ? "add an [[uplink]] with bridge = \"\(bridge)\" to the config, or attach the NIC to a configured bridge"
                        : "attach the NIC to an existing bridge (vlanwire infers uplinks from the kernel's bridges)")
            }
            return unmanaged("bridge \(bridge) is not managed by vlanwire")
        }

        // Rules 2-5: the policy.
        let uplink: Uplink
        var policy: PortPolicy?
        var source: PolicySource
        switch role {
        case .trunk(let trunkUplink):
            uplink = trunkUplink
            if let metadataPolicy {
                (policy, source) = (metadataPolicy, .metadata)
            } else if let network, let portgroup = interface.portgroup ?? network.defaultPortgroup {
                guard let portgroupPolicy = network.portgroups[portgroup] else {
                    return problem(
                        "portgroup '\(portgroup.escapedForDisplay)' of network '\(network.name)' has no policy in vlanwire's config",
                        fix: "add \(portgroup.escapedForDisplay) = \"<vid>\" to the network's portgroups")
                }
                (policy, source) = (portgroupPolicy, .portgroup(network: network.name, portgroup: portgroup))
            } else if let network, let networkPolicy = network.defaultPolicy {
                (policy, source) = (networkPolicy, .networkDefault(network.name))
            } else if let bridgeDefault = uplink.defaultPolicy {
                (policy, source) = (bridgeDefault, .bridgeDefault(uplink.bridge?.rawValue ?? uplink.label))
            } else {
                (policy, source) = (nil, .kernelDefault)
            }
        case .access(let accessUplink, let vid):
            uplink = accessUplink
            if let metadataPolicy {
                (policy, source) = (metadataPolicy, .metadata)
            } else {
                (policy, source) = (.access(vid), .accessBridge(bridgeText ?? ""))
            }
        }

        // Realisation on the uplink's mode.
        if let policy, !policy.memberVLANs.isSubset(of: uplink.vlans) {
            return problem(
                "\(policy) asks for VLANs \(policy.memberVLANs.subtracting(uplink.vlans)), which uplink \(uplink.label) does not carry (vlans = \(uplink.vlans))",
                fix: "add them to the uplink's vlans in the config, or change the NIC's policy")
        }
        /// The NIC wired into `bridge` (through `accessPath` on a classic access VLAN).
        func wired(into bridge: LinkName, accessPath: AccessPath? = nil) -> Result<ResolvedNIC, Problem> {
            .success(
                ResolvedNIC(
                    interface: interface,
                    wiring: Wiring(uplink: uplink, policy: policy, source: source, bridge: bridge, accessPath: accessPath)))
        }
        switch (uplink.mode, policy) {
        case (.vlanAware, _):
            guard let trunkBridge = uplink.bridge else { return problem("vlan-aware uplink \(uplink.label) has no bridge") }
            if case .access = role {
                return problem(
                    "bridge \(bridgeText ?? "") is an access bridge but uplink \(uplink.label) is vlan-aware",
                    fix: "attach the NIC to \(trunkBridge) and give it a policy")
            }
            return wired(into: trunkBridge)
        case (.classic, .access(let vid)?):
            let parent: LinkName
            if let trunkBridge = uplink.bridge, uplinkIsBridgePort(uplink, trunkBridge: trunkBridge, observed: observed) {
                parent = trunkBridge
            } else if let interfaceName = uplink.interface {
                parent = interfaceName
            } else {
                return problem("uplink \(uplink.label) has neither a trunk bridge nor an interface to hang VLAN \(vid) on")
            }
            let path = AccessPath(
                vid: vid, bridge: LinkNaming.accessBridge(for: uplink, vid: vid),
                leg: LinkNaming.vlanLeg(parent: parent, vid: vid), legParent: parent)
            return wired(into: path.bridge, accessPath: path)
        case (.classic, .trunk(_, let native, let nativeMode)?):
            guard let trunkBridge = uplink.bridge else {
                return problem(
                    "\(policy!) needs a trunk bridge, and uplink \(uplink.label) has none",
                    fix: "put the uplink in a bridge and set bridge = \"...\" (vlan-aware mode recommended)")
            }
            let fix =
                "make uplink \(uplink.label) vlan-aware (mode = \"vlan-aware\") so the bridge can filter VLANs, or give this NIC trunk:\(uplink.vlans)"
            guard uplink.vlans.isSubset(of: policy!.memberVLANs) else {
                return problem(
                    "\(policy!) on classic bridge \(trunkBridge) cannot be enforced: a bridge without vlan_filtering forwards every VLAN the uplink carries (\(uplink.vlans))",
                    fix: fix)
            }
            if let native, nativeMode == .tagged {
                return problem(
                    "native-tagged VLAN \(native) on classic bridge \(trunkBridge) cannot be enforced: a bridge without vlan_filtering passes frames as they come, so the guest gets whatever \(uplink.label) carries untagged, untagged, and never VLAN \(native) tagged in its place",
                    fix:
                        "make uplink \(uplink.label) vlan-aware (mode = \"vlan-aware\") so the port can take VLAN \(native) as PVID without the untagged flag, or give this NIC native:\(native) (untagged)"
                )
            }
            if let native, native != uplink.nativeVLAN {
                return problem(
                    "native VLAN \(native) on classic bridge \(trunkBridge) cannot be enforced: the guest gets whatever \(uplink.label) carries untagged",
                    fix: "set native-vlan = \(native) on the uplink if that is what it carries untagged, or make the uplink vlan-aware")
            }
            return wired(into: trunkBridge)
        case (.classic, nil):
            guard let bridge = try? LinkName(bridgeText ?? "") else { return unmanaged("no bridge") }
            return wired(into: bridge)
        }
    }

    /// Whether the uplink is a port of its trunk bridge, so VLAN legs must hang off the bridge:
    /// a leg on the uplink itself would take VLAN frames before the bridge sees them (the seed's trouble).
    package static func uplinkIsBridgePort(_ uplink: Uplink, trunkBridge: LinkName, observed: ObservedState) -> Bool {
        guard let interface = uplink.interface, let link = observed.link(named: interface) else {
            // Unknown (dry run, or inferred without a unique uplink port): a configured bridge means it is.
            return true
        }
        return link.master == trunkBridge.rawValue || !observed.complete
    }
}
