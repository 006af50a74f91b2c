package import VLANWire

/// The seed's troubleshooting notes as checks: pure, from what was read (kernel snapshot, topology,
/// vlanwire's state, guests' domain XML) to findings. `vlanwire doctor` gathers the input and prints.
package struct Doctor: Sendable {
    /// Where the guests checked came from.
    package enum GuestSource: Equatable, Sendable {
        /// libvirt's running guests (and any domain files given by hand).
        case libvirt
        /// libvirt was not asked; only domain files given by hand.
        case notAsked(reason: String)
        /// libvirt could not be reached; only domain files given by hand.
        case unreachable(reason: String)
    }

    /// `vlanwire watch` for the state directory checked.
    package enum Watch: Equatable, Sendable {
        /// No `watch.json`: watch never ran with this state directory.
        case neverRan
        case seen(WatchStatus)
    }

    package var observed: ObservedState
    package var topology: Topology
    /// vlanwire's state; nil when there is none.
    package var state: VLANWireState?
    package var guests: [DomainDescription]
    package var guestSource: GuestSource
    /// Guests whose XML could not be read (one problem each).
    package var unreadableGuests: [Problem]
    /// Put before commands in fixes: "" or `ip netns exec NS `.
    package var commandPrefix: String
    /// nil: not checked (the kernel was read from a file, perhaps another host's).
    package var watch: Watch?

    package init(
        observed: ObservedState, topology: Topology, state: VLANWireState? = nil, guests: [DomainDescription] = [],
        guestSource: GuestSource, unreadableGuests: [Problem] = [], commandPrefix: String = "", watch: Watch? = nil
    ) {
        self.observed = observed
        self.topology = topology
        self.state = state
        self.guests = guests
        self.guestSource = guestSource
        self.unreadableGuests = unreadableGuests
        self.commandPrefix = commandPrefix
        self.watch = watch
    }

    var view: HostView { HostView(observed: observed, topology: topology) }

    /// Every check, in a fixed order (the report sorts by severity, keeping this order within one).
    package func findings() -> [Finding] {
        vlanLegsOnBridgePorts() + duplicateVLANLegs() + accessBridgesWithoutLegs() + uplinkWiring() + kernelCapabilities() + downLinks()
            + portsNotForwarding() + bridgeNetfilter() + mtuBottlenecks() + unusedLinks() + classicTrunkConfig()
            + guestFindings() + guestSourceFindings() + watchFindings()
    }

    package func report() -> DoctorReport { DoctorReport(findings: findings()) }

    func command(_ text: String) -> String { commandPrefix + text }
}

// MARK: - VLAN legs

extension Doctor {
    /// A VLAN leg whose parent is a bridge port receives that VLAN's frames before the bridge does
    /// (the kernel hands a tagged frame to a VLAN device on the receiving link first): trunk guests on
    /// the bridge lose the VLAN inbound, while what they send still leaves. The seed's trouble; the
    /// lab reproduced it on 6.1 (Tests/Lab/scenarios/01-seed-trouble-broken.sh).
    func vlanLegsOnBridgePorts() -> [Finding] {
        observed.links.filter { $0.vlan != nil }.sorted { $0.name < $1.name }.compactMap { leg in
            let vlan = leg.vlan!
            guard let parent = observed.link(named: vlan.parent), let bridgeName = parent.master,
                let bridge = observed.link(named: bridgeName), bridge.isBridge
            else { return nil }
            var links = [leg.name, parent.name, bridge.name]
            if let access = leg.master { links.append(access) }
            let replacement =
                (try? LinkName(bridge.name)).map { LinkNaming.vlanLeg(parent: $0, vid: vlan.id).rawValue }
                ?? "\(bridge.name).\(vlan.id)"
            var steps = [command("ip link del \(leg.name)")]
            if observed.link(named: replacement) == nil {
                steps.append(command("ip link add link \(bridge.name) name \(replacement) type vlan id \(vlan.id)"))
                if let access = leg.master { steps.append(command("ip link set \(replacement) master \(access)")) }
                steps.append(command("ip link set \(replacement) up"))
                if bridge.bridge?.vlanFiltering == true {
                    steps.append(command("bridge vlan add dev \(bridge.name) vid \(vlan.id) self"))
                }
            }
            return Finding(
                .error, .vlanLegOnBridgePort, links: links,
                message:
                    "\(leg.name) (VLAN \(vlan.id) leg on \(parent.name)) takes every VLAN \(vlan.id) frame arriving on \(parent.name) before bridge \(bridge.name) sees it: \(bridge.name)'s other ports (trunk guests) get no VLAN \(vlan.id) from the wire, while what they send still leaves",
                fix: "hang the leg off the bridge instead: " + steps.joined(separator: "; "))
        }
    }

    /// Legs that take one VLAN from one wire: a leg on a bridge port and a leg on that bridge, for
    /// the same VLAN id. Frames from the wire reach only the leg on the port.
    func duplicateVLANLegs() -> [Finding] {
        var groups: [String: [ObservedLink]] = [:]
        for leg in observed.links where leg.vlan != nil {
            let parent = leg.vlan!.parent
            let wire = observed.link(named: parent)?.master.flatMap { observed.link(named: $0)?.isBridge == true ? $0 : nil } ?? parent
            groups["\(wire) \(leg.vlan!.id)", default: []].append(leg)
        }
        return groups.keys.sorted().compactMap { key in
            let legs = groups[key]!.sorted { $0.name < $1.name }
            guard legs.count > 1 else { return nil }
            let vid = legs[0].vlan!.id
            let onPort = legs.filter { leg in observed.link(named: leg.vlan!.parent).map { !$0.isBridge } ?? false }
            let others = legs.filter { leg in !onPort.contains { $0.name == leg.name } }
            let names = legs.map(\.name).joined(separator: " and ")
            guard let taker = onPort.first else {
                return Finding(
                    .error, .duplicateVLANLeg, links: legs.map(\.name),
                    message: "\(names) all carry VLAN \(vid) of one wire",
                    fix: "keep one leg per VLAN and wire")
            }
            return Finding(
                .error, .duplicateVLANLeg, links: legs.map(\.name) + [taker.vlan!.parent],
                message:
                    "\(names) both carry VLAN \(vid) of \(taker.vlan!.parent): \(taker.name), on the port itself, takes every frame arriving from the wire; \(others.map(\.name).joined(separator: ", ")) receive\(others.count == 1 ? "s" : "") none",
                fix: "keep the leg on the bridge: " + onPort.map { command("ip link del \($0.name)") }.joined(separator: "; "))
        }
    }
}

extension Doctor {
    /// An access bridge whose guests are cut off: it has guest ports but no VLAN leg feeds it.
    func accessBridgesWithoutLegs() -> [Finding] {
        observed.links.filter(\.isBridge).sorted { $0.name < $1.name }.compactMap { bridge in
            guard case .access(let uplink, let vid)? = topology.role(ofBridge: bridge.name, observed: observed),
                view.feedingLegs(of: bridge.name).isEmpty
            else { return nil }
            let guests = view.guestPorts(of: bridge.name)
            guard !guests.isEmpty else { return nil }
            let parent =
                uplink.bridge.flatMap { trunk in
                    ResolvedNIC.uplinkIsBridgePort(uplink, trunkBridge: trunk, observed: observed) ? trunk : nil
                } ?? uplink.interface
            var fix = "vlanwire reconcile re-creates it"
            if let parent {
                let leg = LinkNaming.vlanLeg(parent: parent, vid: vid)
                fix +=
                    ", or: "
                    + [
                        command("ip link add link \(parent) name \(leg) type vlan id \(vid)"),
                        command("ip link set \(leg) master \(bridge.name)"), command("ip link set \(leg) up"),
                    ]
                    .joined(separator: "; ")
            }
            return Finding(
                .error, .accessBridgeWithoutLeg, links: [bridge.name] + guests.map(\.name),
                message:
                    "access bridge \(bridge.name) (VLAN \(vid) of \(uplink.label)) has guest ports (\(guests.map(\.name).joined(separator: ", "))) but no VLAN \(vid) leg feeds it: they are cut off from the wire",
                fix: fix)
        }
    }
}

// MARK: - Config against the kernel

extension Doctor {
    /// A configured uplink whose interface or bridge is missing, or not a port of its bridge; a
    /// vlan-aware bridge with filtering off.
    func uplinkWiring() -> [Finding] {
        guard topology.configured, observed.complete else { return [] }
        var findings: [Finding] = []
        for uplink in topology.uplinks {
            let interface = uplink.interface.flatMap { observed.link(named: $0) }
            let bridge = uplink.bridge.flatMap { observed.link(named: $0) }
            if let name = uplink.interface, interface == nil {
                findings.append(
                    Finding(
                        .error, .uplinkWiring, links: [name.rawValue],
                        message: "uplink \(name) does not exist",
                        fix: "correct interface = \"\(name)\" in the config, or bring the NIC or bond up"))
            }
            if let name = uplink.bridge {
                guard let bridge else {
                    findings.append(
                        Finding(
                            .error, .uplinkWiring, links: [name.rawValue],
                            message: "trunk bridge \(name) of uplink \(uplink.label) does not exist",
                            fix: "create it in the host's network configuration with \(uplink.interface?.rawValue ?? "the uplink") as a port"))
                    continue
                }
                if let interface, interface.master != name.rawValue {
                    findings.append(
                        Finding(
                            .error, .uplinkWiring, links: [interface.name, name.rawValue],
                            message:
                                "uplink \(interface.name) is \(interface.master.map { "a port of \($0)" } ?? "in no bridge"), not of its trunk bridge \(name): guests on \(name) are cut off from the wire",
                            fix: command("ip link set \(interface.name) master \(name)") + " (and in the host's network configuration)"))
                }
                if uplink.mode == .vlanAware, bridge.bridge?.vlanFiltering == false,
                    observed.capabilities?.bridgeVLANFiltering != false
                {
                    findings.append(
                        Finding(
                            .warning, .uplinkWiring, links: [name.rawValue],
                            message:
                                "uplink \(uplink.label) is vlan-aware in the config, but \(name) has vlan_filtering off: it forwards every VLAN to every port until vlanwire turns filtering on at the next guest start",
                            fix: "start or reconnect a guest on \(name), or: " + command("ip link set \(name) type bridge vlan_filtering 1")))
                }
            }
        }
        return findings
    }

    /// 802.1Q or VLAN filtering missing while the config or the guests need them.
    func kernelCapabilities() -> [Finding] {
        guard let capabilities = observed.capabilities else { return [] }
        var findings: [Finding] = []
        if !capabilities.bridgeVLANFiltering {
            for uplink in topology.uplinks where uplink.mode == .vlanAware {
                findings.append(
                    Finding(
                        .error, .kernelCapability, links: [uplink.bridge?.rawValue, uplink.interface?.rawValue].compactMap { $0 },
                        message:
                            "uplink \(uplink.label) is vlan-aware, but this kernel lacks bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING): guests on it cannot be wired",
                        fix: "boot a kernel with bridge VLAN filtering (Debian's linux-image-amd64 has it), or set mode = \"classic\""))
            }
        }
        if !capabilities.vlan8021Q {
            let accessVLANs = accessVLANsNeeded()
            for uplink in topology.uplinks {
                guard let vlans = accessVLANs[uplink.label], !vlans.isEmpty else { continue }
                findings.append(
                    Finding(
                        .error, .kernelCapability, links: [uplink.interface?.rawValue, uplink.bridge?.rawValue].compactMap { $0 },
                        message:
                            "access VLANs \(vlans) on classic uplink \(uplink.label) need VLAN legs, but this kernel lacks 802.1Q VLAN links (CONFIG_VLAN_8021Q, module 8021q)",
                        fix: command("modprobe 8021q") + ", or boot a kernel with 802.1Q (Debian's linux-image-amd64 has it)"))
            }
        }
        return findings
    }

    /// Per classic uplink (by label): the access VLANs its config lists and its guests use.
    private func accessVLANsNeeded() -> [String: VLANSet] {
        var needed: [String: VLANSet] = [:]
        for uplink in topology.uplinks where uplink.mode == .classic {
            needed[uplink.label] = uplink.accessNetworks
        }
        for guest in guests {
            for interface in guest.interfaces {
                guard case .success(let nic) = ResolvedNIC.resolve(interface, guest: guest, topology: topology, observed: observed),
                    let wiring = nic.wiring, let path = wiring.accessPath
                else { continue }
                needed[wiring.uplink.label, default: .empty] = needed[wiring.uplink.label, default: .empty].union(VLANSet(path.vid))
            }
        }
        return needed
    }

    /// Portgroups and bridge defaults that ask for a trunk a classic bridge cannot enforce: every
    /// guest using them is refused at start.
    func classicTrunkConfig() -> [Finding] {
        var findings: [Finding] = []
        for uplink in topology.uplinks where uplink.mode == .classic {
            if case .trunk? = uplink.defaultPolicy, let policy = uplink.defaultPolicy, Self.classicCannotEnforce(policy, uplink) {
                findings.append(
                    classicTrunkFinding(policy: policy, uplink: uplink, what: "default-policy of uplink \(uplink.label)", severity: .warning))
            }
        }
        for network in topology.networks {
            guard let uplink = topology.uplink(named: network.uplink), uplink.mode == .classic else { continue }
            for (portgroup, policy) in network.portgroups.sorted(by: { $0.key < $1.key }) {
                guard case .trunk = policy, Self.classicCannotEnforce(policy, uplink) else { continue }
                findings.append(
                    classicTrunkFinding(policy: policy, uplink: uplink, what: "portgroup \(portgroup) of network \(network.name)", severity: .warning)
                )
            }
        }
        return findings
    }

    /// A trunk a classic bridge cannot give: fewer VLANs than the uplink carries, or a native VLAN
    /// that must leave tagged.
    static func classicCannotEnforce(_ policy: PortPolicy, _ uplink: Uplink) -> Bool {
        !uplink.vlans.isSubset(of: policy.memberVLANs) || policy.isNativeTagged
    }

    func classicTrunkFinding(
        policy: PortPolicy, uplink: Uplink, what: String, severity: Finding.Severity,
        guest: String? = nil, nic: String? = nil
    ) -> Finding {
        let bridge = uplink.bridge?.rawValue ?? uplink.label
        if let native = policy.native, native.mode == .tagged, uplink.vlans.isSubset(of: policy.memberVLANs) {
            return Finding(
                severity, .trunkOnClassicBridge, links: [bridge] + (uplink.interface.map { [$0.rawValue] } ?? []), guest: guest, nic: nic,
                message:
                    "\(what) asks for \(policy) on classic bridge \(bridge), which cannot enforce it: a bridge without vlan_filtering passes frames as they come, so the guest gets what \(uplink.interface?.rawValue ?? "the uplink") carries untagged, untagged, and never VLAN \(native.vid) tagged in its place\(guest == nil ? "; guests using it are refused at start" : "")",
                fix: "make uplink \(uplink.label) vlan-aware (mode = \"vlan-aware\" in the config), or use native:\(native.vid) (untagged)")
        }
        return Finding(
            severity, .trunkOnClassicBridge, links: [bridge] + (uplink.interface.map { [$0.rawValue] } ?? []), guest: guest, nic: nic,
            message:
                "\(what) asks for \(policy) on classic bridge \(bridge), which cannot enforce it: a bridge without vlan_filtering forwards every VLAN \(uplink.interface?.rawValue ?? "the uplink") carries (\(uplink.vlans)) to every port\(guest == nil ? "; guests using it are refused at start" : "")",
            fix: "make uplink \(uplink.label) vlan-aware (mode = \"vlan-aware\" in the config), or give it trunk:\(uplink.vlans)")
    }
}

// MARK: - Link states

extension Doctor {
    /// Links on guests' paths that are down: administratively (error), without carrier (error), or
    /// because the link below is down (warning: the root cause has its own finding).
    func downLinks() -> [Finding] {
        guestPathLinks.compactMap { link in
            guard !link.isPassing else { return nil }
            if !link.adminUp {
                return Finding(
                    .error, .linkDown, links: [link.name],
                    message: "\(link.name)\(role(of: link)) is administratively down: frames do not pass it",
                    fix: command("ip link set \(link.name) up"))
            }
            if link.isBridge {
                let ports = observed.ports(of: link.name)
                guard ports.isEmpty else { return nil }  // its ports explain it
                return Finding(.info, .linkDown, links: [link.name], message: "bridge \(link.name) has no ports, so it has no carrier")
            }
            if link.operState == "lowerlayerdown", let lower = link.vlan?.parent {
                return Finding(
                    .warning, .linkDown, links: [link.name, lower],
                    message: "\(link.name)\(role(of: link)) is down because \(lower) is down",
                    fix: "bring \(lower) up (see its own finding)")
            }
            let cause: String
            let fix: String
            switch link.kind {
            case "tun":
                cause = "has no carrier: no guest holds the tap open (the guest stopped, or the tap is left over)"
                fix = "start the guest, or remove the stale tap: " + command("ip link del \(link.name)")
            case "veth":
                // A veth's lower link is its peer, often in another namespace: reported here.
                cause = "has no carrier: its peer is down or gone"
                fix = "bring the peer up"
            default:
                cause = "has no carrier (\(link.operState))"
                fix = "check the cable, the switch port, or the link below it"
            }
            return Finding(.error, .linkDown, links: [link.name], message: "\(link.name)\(role(of: link)) \(cause)", fix: fix)
        }
    }

    /// Ports on guests' paths that are up but not forwarding (STP listening/learning/blocking, or
    /// a state set by hand).
    func portsNotForwarding() -> [Finding] {
        guestPathLinks.compactMap { link in
            guard let port = link.port, port.state != "forwarding", link.isPassing, let bridgeName = link.master else { return nil }
            let info = observed.link(named: bridgeName)?.bridge
            let stp = info?.stpEnabled == true
            switch port.state {
            case "listening", "learning":
                let seconds = (info?.forwardDelay ?? 0) / 100
                return Finding(
                    .warning, .portNotForwarding, links: [link.name, bridgeName],
                    message:
                        "port \(link.name) of \(bridgeName) is \(port.state): it forwards nothing until STP moves it to forwarding (forward_delay \(seconds) s per state)",
                    fix: "wait, or: " + command("ip link set \(bridgeName) type bridge stp_state 0 forward_delay 0")
                        + " (vlanwire creates its bridges so)")
            default:
                return Finding(
                    .error, .portNotForwarding, links: [link.name, bridgeName],
                    message: "port \(link.name) of \(bridgeName) is \(port.state): it forwards nothing"
                        + (stp ? " (STP on \(bridgeName) blocks it: a loop, or a better path)" : " (STP is off: the state was set by hand)"),
                    fix: stp
                        ? "find the loop; if there is none: " + command("ip link set \(bridgeName) type bridge stp_state 0")
                        : command("bridge link set dev \(link.name) state 3"))
            }
        }
    }

    var guestPathLinks: [ObservedLink] {
        var links = view.guestPathLinks
        for guest in guests {
            for interface in guest.interfaces {
                if let tap = view.tap(of: interface), !links.contains(where: { $0.name == tap.name }) { links.append(tap) }
            }
        }
        return links
    }

    func role(of link: ObservedLink) -> String {
        if topology.uplinks.contains(where: { $0.interface?.rawValue == link.name }) { return " (uplink)" }
        if topology.uplinks.contains(where: { $0.bridge?.rawValue == link.name }) { return " (trunk bridge)" }
        if let vlan = link.vlan { return " (VLAN \(vlan.id) leg on \(vlan.parent))" }
        if let master = link.master { return " (port of \(master))" }
        return ""
    }
}

// MARK: - Bridge netfilter

extension Doctor {
    /// The seed's sysctls: with br_netfilter, bridged frames pass through iptables/ip6tables/arptables
    /// (and with `bridge-nf-filter-vlan-tagged`, tagged ones too), where a host firewall rule can drop
    /// guests' frames. A bridge's own nf_call_* options only add to the sysctls: a bridge with them
    /// at 0 is still filtered while the sysctl is 1.
    func bridgeNetfilter() -> [Finding] {
        let bridges = view.vlanBridges.map(\.name).sorted()
        guard !bridges.isEmpty else { return [] }
        var findings: [Finding] = []
        if let enabled = observed.bridgeNetfilter?.enabled, !enabled.isEmpty {
            let tagged = enabled.contains("bridge-nf-filter-vlan-tagged") ? "; with bridge-nf-filter-vlan-tagged, VLAN-tagged frames too" : ""
            findings.append(
                Finding(
                    .warning, .bridgeNetfilter, links: bridges,
                    message:
                        "br_netfilter passes frames bridged by \(bridges.joined(separator: ", ")) to the host firewall (\(enabled.joined(separator: ", ")) = 1)\(tagged): a FORWARD rule or policy can drop guests' frames. A bridge's own nf_call_* at 0 does not override these",
                    fix: command("sysctl -w " + enabled.map { "net.bridge.\($0)=0" }.joined(separator: " "))
                        + "; keep it across reboots in /etc/sysctl.d/ (the keys exist once br_netfilter is loaded)"))
        }
        for name in bridges {
            guard let info = observed.link(named: name)?.bridge else { continue }
            let on = [
                ("nf_call_iptables", info.nfCallIPTables), ("nf_call_ip6tables", info.nfCallIP6Tables),
                ("nf_call_arptables", info.nfCallARPTables),
            ].filter { $0.1 == true }.map(\.0)
            guard !on.isEmpty else { continue }
            findings.append(
                Finding(
                    .warning, .bridgeNetfilter, links: [name],
                    message:
                        "bridge \(name) has its own \(on.joined(separator: ", ")) on: frames it bridges pass the host firewall even with the sysctls at 0",
                    fix: command("ip link set \(name) type bridge " + on.map { "\($0) 0" }.joined(separator: " "))
                        + " (or bridge-netfilter = \"off\" in vlanwire's config)"))
        }
        return findings
    }
}

// MARK: - MTU

extension Doctor {
    /// A VLAN leg (or the trunk bridge it hangs off) with a smaller MTU than both the uplink and
    /// the guest's port: frames between them that fit both ends are dropped in the middle. (A
    /// bridge's own MTU does not limit what it forwards between ports; a leg's, and its parent's,
    /// does.)
    func mtuBottlenecks() -> [Finding] {
        var found: [String: (interior: [ObservedLink], uplink: ObservedLink, ports: [ObservedLink])] = [:]
        var order: [String] = []
        for bridge in observed.links.filter(\.isBridge).sorted(by: { $0.name < $1.name }) {
            guard let leg = view.feedingLegs(of: bridge.name).first, let parent = observed.link(named: leg.vlan!.parent) else { continue }
            let uplink: ObservedLink? = parent.isBridge ? view.uplinkPort(of: parent.name) : parent
            guard let uplink else { continue }
            let interior = (parent.isBridge ? [parent] : []) + [leg]
            for port in view.guestPorts(of: bridge.name) {
                let ends = min(uplink.mtu, port.mtu)
                let narrow = interior.filter { $0.mtu < ends }
                guard !narrow.isEmpty else { continue }
                let key = narrow.map(\.name).joined(separator: ",") + " " + uplink.name + " \(ends)"
                if found[key] == nil {
                    order.append(key)
                    found[key] = (narrow, uplink, [])
                }
                found[key]!.ports.append(port)
            }
        }
        return order.map { key in
            let (narrow, uplink, ports) = found[key]!
            let ends = ports.map { min(uplink.mtu, $0.mtu) }.min()!
            let portText = ports.map { "\($0.name) (MTU \($0.mtu))" }.joined(separator: ", ")
            return Finding(
                .warning, .mtuBottleneck, links: narrow.map(\.name) + [uplink.name] + ports.map(\.name),
                message:
                    "\(narrow.map { "\($0.name) has MTU \($0.mtu)" }.joined(separator: " and ")), smaller than both ends of the path between \(uplink.name) (MTU \(uplink.mtu)) and \(portText): frames up to \(ends) bytes fit both ends but larger than \(narrow.map(\.mtu).min()!) are dropped in the middle",
                fix: narrow.map { command("ip link set \($0.name) mtu \(ends)") }.joined(separator: "; "))
        }
    }
}

// MARK: - Links vlanwire created

extension Doctor {
    /// Bridges and legs carrying vlanwire's mark that no guest port uses: left over by a release
    /// that did not run (or could not delete them). An access bridge a running guest's policy needs
    /// is not left over, even when its tap drifted away (that is the drift finding).
    func unusedLinks() -> [Finding] {
        var findings: [Finding] = []
        var covered = accessLinksOfRunningGuests
        let marked = observed.links.filter(\.isMarkedByVLANWire).sorted { $0.name < $1.name }
        for bridge in marked where bridge.isBridge && !covered.contains(bridge.name) {
            let legs = view.feedingLegs(of: bridge.name)
            guard observed.ports(of: bridge.name).allSatisfy({ $0.vlan != nil }) else { continue }
            let ours = legs.filter(\.isMarkedByVLANWire)
            covered.formUnion([bridge.name] + ours.map(\.name))
            findings.append(
                unusedFinding(
                    links: [bridge] + ours,
                    message: "\(bridge.name) was created by vlanwire and has no guest port"
                        + (ours.isEmpty ? "" : " (only its leg \(ours.map(\.name).joined(separator: ", ")))")))
        }
        for leg in marked where leg.vlan != nil && leg.master == nil && !covered.contains(leg.name) {
            findings.append(unusedFinding(links: [leg], message: "VLAN leg \(leg.name) was created by vlanwire and feeds no bridge"))
        }
        return findings
    }

    /// Access bridges and the legs feeding them that the policies of running guests (those with a
    /// tap here) put their taps in.
    var accessLinksOfRunningGuests: Set<String> {
        var names: Set<String> = []
        for guest in guests {
            for interface in guest.interfaces where view.tap(of: interface) != nil {
                guard case .success(let nic) = ResolvedNIC.resolve(interface, guest: guest, topology: topology, observed: observed),
                    let path = nic.wiring?.accessPath
                else { continue }
                names.insert(path.bridge.rawValue)
                names.formUnion(view.feedingLegs(of: path.bridge.rawValue).map(\.name))
            }
        }
        return names
    }

    private func unusedFinding(links: [ObservedLink], message: String) -> Finding {
        let names = Set(links.compactMap { try? LinkName($0.name) })
        let users = (state?.guests ?? []).filter { guest in guest.nics.contains { !names.isDisjoint(with: $0.uses) } }.map(\.name)
        let known =
            state.map { state in
                links.allSatisfy { link in (try? LinkName(link.name)).flatMap { state.created($0) } != nil }
            } ?? false
        var text = message
        if !users.isEmpty {
            text += "; vlanwire's state still lists \(users.joined(separator: ", ")) as using it (its stopped/release hook did not run?)"
        } else if state != nil, !known {
            text += "; vlanwire's state does not list it (state lost, or another namespace's)"
        }
        let deletions = links.filter(\.isBridge).map(\.name) + links.filter { !$0.isBridge }.map(\.name)
        let fix =
            users.isEmpty
            ? deletions.map { command("ip link del \($0)") }.joined(separator: "; ")
            : users.map { "vlanwire release --guest \($0)" }.joined(separator: "; ")
        return Finding(.warning, .unusedLink, links: links.map(\.name), message: text, fix: fix)
    }
}

// MARK: - Guests

extension Doctor {
    func guestFindings() -> [Finding] {
        var findings = unreadableGuests.map { problem in
            Finding(.error, .guestUnreadable, guest: problem.guest, nic: problem.nic, message: problem.cause, fix: problem.fix)
        }
        for guest in guests {
            for interface in guest.interfaces {
                findings += nicFindings(interface, guest: guest)
            }
        }
        return findings
    }

    func nicFindings(_ interface: DomainInterface, guest: DomainDescription) -> [Finding] {
        let nic = interface.label
        if let vlan = interface.libvirtVLAN {
            // vlanwire leaves the NIC to libvirt; what is there to say is about libvirt's <vlan>.
            let tags = vlan.tags.map { $0.id + ($0.nativeMode.map { " (native \($0))" } ?? "") }.joined(separator: ",")
            var findings: [Finding] = []
            if let mac = interface.mac, let policy = guest.metadata[mac] {
                findings.append(
                    Finding(
                        .warning, .libvirtVLANAndMetadata, guest: guest.name, nic: nic,
                        message:
                            "the NIC has libvirt's own <vlan\(vlan.trunk ? " trunk='yes'" : "")> (tags \(tags)) and vlanwire metadata (\(policy)): vlanwire leaves NICs with <vlan> to libvirt and ignores its metadata; libvirt before 11.0 refuses to start a Linux-bridge NIC with <vlan>",
                        fix: "keep one: remove the <vlan> element (libvirt < 11), or the NIC's <vw:interface> entry from the metadata"))
            }
            if let finding = libvirtVLANWithoutFiltering(interface, tags: tags, guest: guest) { findings.append(finding) }
            if !findings.isEmpty { return findings }
        }
        switch ResolvedNIC.resolve(interface, guest: guest, topology: topology, observed: observed) {
        case .failure(let problem):
            if let uplink = view.trunkRole(of: interface), uplink.mode == .classic,
                let policy = view.requestedPolicy(of: interface, guest: guest, uplink: uplink),
                case .trunk = policy, Self.classicCannotEnforce(policy, uplink)
            {
                return [classicTrunkFinding(policy: policy, uplink: uplink, what: "the NIC", severity: .error, guest: guest.name, nic: nic)]
            }
            return [
                Finding(.error, .nicRefused, guest: guest.name, nic: problem.nic, message: "vlanwire refuses it: \(problem.cause)", fix: problem.fix)
            ]
        case .success(let resolved):
            guard let wiring = resolved.wiring else { return [] }
            return drift(resolved, wiring: wiring, guest: guest)
        }
    }

    /// libvirt ≥ 11 applies a `<vlan>` on a Linux bridge by writing the tap's port VLANs; it neither
    /// checks nor enables `vlan_filtering`. On a bridge without it those VLANs do nothing: the guest
    /// gets every VLAN the bridge carries. The bridge is the one the tap is in, else `<source bridge>`.
    func libvirtVLANWithoutFiltering(_ interface: DomainInterface, tags: String, guest: DomainDescription) -> Finding? {
        let tap = interface.targetDevice.flatMap { observed.link(named: $0) }
        guard let bridgeName = tap?.master ?? interface.sourceBridge,
            let bridge = observed.link(named: bridgeName), let info = bridge.bridge, !info.vlanFiltering
        else { return nil }
        let port = tap.map { "tap \($0.name) in \(bridgeName)" } ?? "the NIC's port in \(bridgeName)"
        return Finding(
            .warning, .libvirtVLANWithoutFiltering, links: [bridgeName] + (tap.map { [$0.name] } ?? []), guest: guest.name, nic: interface.label,
            message:
                "the NIC has libvirt's own <vlan> (tags \(tags)) but bridge \(bridgeName) has no vlan_filtering: libvirt writes the VLANs on \(port) and the bridge ignores them, so the guest gets every VLAN \(bridgeName) carries, not only \(tags) (libvirt neither checks nor enables vlan_filtering)",
            fix:
                "make \(bridgeName) vlan-aware and give its uplink port the VLANs: \(command("ip link set \(bridgeName) type bridge vlan_filtering 1")); bridge vlan add dev UPLINK vid VID (or an [[uplink]] with mode = \"vlan-aware\" in the config, and vlanwire does it)"
        )
    }

    /// The NIC's `NICAudit`, as findings with their fixes. The bridge-level drifts (filtering off,
    /// an access bridge or leg missing or down) are the config and link checks' findings.
    func drift(_ nic: ResolvedNIC, wiring: ResolvedNIC.Wiring, guest: DomainDescription) -> [Finding] {
        let label = nic.interface.label
        let audit = NICAudit.audit(nic, observed: observed)
        return audit.drifts.compactMap { drift -> Finding? in
            switch drift {
            case .tapMissing:
                return Finding(
                    .info, .tapMissing, guest: guest.name, nic: label,
                    message: "no tap for this NIC in this namespace (the guest is not running here), so its wiring is not checked")
            case .tapMAC(let target, let has, let wants):
                return Finding(
                    .error, .tapMAC, links: [target], guest: guest.name, nic: label,
                    message: "target dev \(target.escapedForDisplay) has MAC \(has?.description ?? "none"), not this NIC's tap MAC \(wants): "
                        + (audit.tap.map { "the NIC's tap is \($0.link.name)" } ?? "the NIC has no tap here"),
                    fix: "let libvirt recreate the tap: virsh destroy \(guest.name.escapedForDisplay); virsh start \(guest.name.escapedForDisplay)")
            case .wrongBridge(let tap, let bridge, let wants, let policy):
                let move = command("ip link set \(tap) master \(wants)")
                guard let policy else {
                    return Finding(
                        .error, .tapBridgeDrift, links: [tap, bridge ?? "-", wants.rawValue], guest: guest.name, nic: label,
                        message:
                            "tap \(tap) is \(bridge.map { "in \($0)" } ?? "in no bridge"), but libvirt's definition puts it in \(wants) (the NIC has no policy, so vlanwire does not move it)",
                        fix: move + ", or give the NIC a policy (vlanwire set-port) and run vlanwire reconcile")
                }
                return Finding(
                    .error, .tapBridgeDrift, links: [tap, bridge ?? "-", wants.rawValue], guest: guest.name, nic: label,
                    message:
                        "tap \(tap) is \(bridge.map { "in \($0)" } ?? "in no bridge"), but its policy (\(policy), from \(wiring.source)) puts it in \(wants)",
                    fix: (guestSource == .libvirt ? "vlanwire reconcile" : "vlanwire apply on the guest's XML") + ", or: " + move)
            case .vlansDiffer(let tap, let has, let wants):
                guard let policy = wiring.policy, let name = try? LinkName(tap) else { return nil }
                return portVLANDrift(tap: name, actual: has, wanted: wants, policy: policy, wiring: wiring, guest: guest.name, nic: label)
            case .uplinkVLANs(let uplink, let missing, let inferred):
                guard let policy = wiring.policy else { return nil }
                let add = command(Action.addPortVLANs(port: uplink, vlans: PortVLANs(members: missing)).description)
                return Finding(
                    .error, .uplinkWiring, links: [uplink.rawValue, wiring.bridge.rawValue], guest: guest.name, nic: label,
                    message:
                        "uplink \(uplink) does not carry VLAN\(missing.count == 1 ? "" : "s") \(missing) that the NIC's policy \(policy) uses: those frames never reach the wire",
                    fix: inferred ? add : "vlanwire reconcile, or: " + add)
            case .notVLANAware, .accessBridgeMissing, .accessBridgeDown, .legMissing, .legDown:
                return nil
            }
        }
    }

    func portVLANDrift(
        tap name: LinkName, actual: PortVLANs, wanted: PortVLANs, policy: PortPolicy, wiring: ResolvedNIC.Wiring,
        guest: String, nic label: String
    ) -> Finding {
        var differences: [String] = []
        let extra = actual.members.subtracting(wanted.members)
        let missing = wanted.members.subtracting(actual.members)
        if !extra.isEmpty { differences.append("it also gets VLANs \(extra)") }
        if !missing.isEmpty { differences.append("it lacks VLANs \(missing)") }
        if let native = Mismatch.nativeModeDifference(has: actual, wants: wanted) { differences.append(native) }
        if actual.untagged.intersection(wanted.members) != wanted.untagged || actual.pvid != wanted.pvid {
            differences.append(
                "untagged/pvid differ (has \(actual.untagged.isEmpty ? "none" : "\(actual.untagged)")/\(actual.pvid.map { "\($0)" } ?? "none"), wants \(wanted.untagged.isEmpty ? "none" : "\(wanted.untagged)")/\(wanted.pvid.map { "\($0)" } ?? "none"))"
            )
        }
        var steps: [Action] = []
        if !extra.isEmpty { steps.append(.removePortVLANs(port: name, vlans: extra)) }
        steps.append(.addPortVLANs(port: name, vlans: wanted))
        return Finding(
            .error, .portVLANDrift, links: [name.rawValue, wiring.bridge.rawValue], guest: guest, nic: label,
            message: "tap \(name) has VLANs \(actual); its policy \(policy) (from \(wiring.source)) gives \(wanted): "
                + differences.joined(separator: "; "),
            fix: steps.map { command($0.description) }.joined(separator: "; "))
    }

    func guestSourceFindings() -> [Finding] {
        let files = guests.isEmpty ? "" : "; checking only the \(guests.count) domain file\(guests.count == 1 ? "" : "s") given"
        switch guestSource {
        case .libvirt: return []
        case .notAsked(let reason):
            return [
                Finding(
                    .info, .guests,
                    message: "libvirt not asked (\(reason))\(files)"
                        + (guests.isEmpty ? ": guest checks (drift, policies, metadata) need guests" : ""),
                    fix: guests.isEmpty ? "give domain XML files with --xml (virsh dumpxml GUEST)" : nil)
            ]
        case .unreachable(let reason):
            return [
                Finding(
                    .info, .guests,
                    message: "libvirt is not reachable (\(reason))\(files)"
                        + (guests.isEmpty ? ": guest checks (drift, policies, metadata) need guests" : ""),
                    fix: "start libvirtd, pass --connect URI, or give domain XML files with --xml")
            ]
        }
    }
}

// MARK: - vlanwire watch

extension Doctor {
    /// Whether something keeps running guests wired between libvirt's hook calls, which come only
    /// at start and stop: without watch, a hot-plugged NIC, a port VLAN removed by hand or a policy
    /// changed live stays wrong until someone runs `vlanwire reconcile`. A watch that is gone is
    /// not warned about for its libvirt connection: that part of its file is stale.
    func watchFindings() -> [Finding] {
        guard let watch else { return [] }
        guard case .seen(let view) = watch else { return [notWatching("never ran here")] }
        var findings: [Finding] = []
        if view.running != true {
            findings.append(notWatching("last ran: started \(view.startedAt.withoutControlCharacters), pid \(view.pid)"))
        } else if view.isReconnecting {
            findings.append(
                Finding(
                    .warning, .watch,
                    message:
                        "vlanwire watch (pid \(view.pid)) has lost libvirt at \(view.uri.withoutControlCharacters) (\(view.libvirt.withoutControlCharacters)): until it reconnects, hot-plugged NICs and live policy changes are not repaired",
                    fix: "start libvirtd (or virtqemud): systemctl start libvirtd; watch reconnects by itself and then reconciles every running guest"
                ))
        }
        if let failure = view.lastFailure {
            findings.append(
                Finding(
                    .info, .watch,
                    message:
                        "vlanwire watch's last failure (\(failure.at.withoutControlCharacters), \(view.failures) since it started \(view.startedAt.withoutControlCharacters)): \(failure.line.withoutControlCharacters)",
                    fix: "journalctl -u vlanwire-watch.service shows every repair and failure"))
        }
        return findings
    }

    private func notWatching(_ why: String) -> Finding {
        Finding(
            .info, .watch,
            message:
                "vlanwire watch is not running (\(why)): hot-plugged NICs, drift and live policy changes are not repaired until `vlanwire reconcile`",
            fix:
                "systemctl enable --now vlanwire-watch.service (the Debian package ships the unit; from source, first vlanwire install-hook --watch and systemctl daemon-reload)"
        )
    }
}
