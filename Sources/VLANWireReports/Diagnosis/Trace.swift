package import VLANWire

/// Where a guest NIC's frames go, hop by hop, from the wire to the guest and back: what each hop
/// sees (tagged or untagged, which VLAN), each link's state, where a frame is dropped and why, and
/// the capture command for each hop. The seed's troubleshooting note 2 ("know the traffic flow to
/// know where to capture"), computed.
package struct GuestTrace: Codable, Equatable, Sendable {
    package var guest: String
    package var nics: [NICTrace]

    package init(guest: String, nics: [NICTrace]) {
        self.guest = guest
        self.nics = nics
    }
}

/// One NIC's path and its frame flows.
package struct NICTrace: Codable, Equatable, Sendable {
    package var mac: String?
    package var type: String
    /// The tap's name; nil when the guest is not running (and its XML names none).
    package var tap: String?
    /// The bridge the tap is in (or, not running, would be in).
    package var bridge: String?
    package var policy: String?
    package var policySource: String?
    /// The links from the wire to the guest, with what each is: `eth0 (uplink) -> br0 (...) -> vnet0`.
    package var path: String
    package var flows: [FrameFlow]
    package var notes: [String]
}

/// One VLAN's frames through a NIC's path, both ways.
package struct FrameFlow: Codable, Equatable, Sendable {
    /// The VLAN traced (`5`), or `untagged` for the uplink's untagged frames.
    package var vlan: String
    /// For the NIC's native VLAN: how it leaves the tap towards the guest (`tagged`, `untagged`);
    /// nil for other VLANs.
    package var native: String?
    package var inbound: FramePassage
    package var outbound: FramePassage
}

package struct FramePassage: Codable, Equatable, Sendable {
    package enum Direction: String, Codable, Sendable {
        /// From the wire to the guest.
        case inbound
        /// From the guest to the wire.
        case outbound
    }

    package var direction: Direction
    /// The hops the frame reaches, in the order it crosses them; the last one drops it when `droppedAt` is set.
    package var hops: [Hop]
    package var droppedAt: String?
    /// `delivered: the guest sees it untagged`, `dropped at eth0`.
    package var summary: String
}

package struct Hop: Codable, Equatable, Sendable {
    package var link: String
    /// What the link is on this path: `uplink`, `VLAN 5 leg on br0`, `tap, port of br05`, ...
    package var role: String
    /// `up`, `down (admin)`, `up, forwarding`, `absent`, ...
    package var state: String
    /// The frame as a capture on this link shows it: `tagged 5`, `untagged`.
    package var frame: String
    /// The command that shows these frames here (nil where nothing can capture).
    package var capture: String?
    /// Why the frame goes no further than this hop.
    package var drop: String?
}

/// Computes traces from a kernel snapshot and the topology. Pure.
package struct FrameTracer: Sendable {
    package var observed: ObservedState
    package var topology: Topology
    /// Put before capture commands: "" or `ip netns exec NS `.
    package var commandPrefix: String
    /// At most this many VLANs are traced per NIC when no VLAN is asked for.
    package static let defaultVLANLimit = 8

    package init(observed: ObservedState, topology: Topology, commandPrefix: String = "") {
        self.observed = observed
        self.topology = topology
        self.commandPrefix = commandPrefix
    }

    var view: HostView { HostView(observed: observed, topology: topology) }

    /// Traces the guest's NICs (only the one with `mac` when given), for `vlan` or for the VLANs
    /// each NIC's policy gives it.
    package func trace(_ guest: DomainDescription, mac: MACAddress? = nil, vlan: VLANID? = nil) throws(Refusal) -> GuestTrace {
        let interfaces = guest.interfaces.filter { mac == nil || $0.mac == mac }
        guard !interfaces.isEmpty else {
            throw Refusal(
                Problem(
                    guest: guest.name, nic: mac?.description,
                    cause: mac == nil ? "the guest has no network interfaces" : "the guest has no NIC with this MAC",
                    fix: "virsh domiflist \(guest.name) lists its NICs"))
        }
        return GuestTrace(guest: guest.name, nics: interfaces.map { trace($0, guest: guest, vlan: vlan) })
    }

    func trace(_ interface: DomainInterface, guest: DomainDescription, vlan: VLANID?) -> NICTrace {
        var trace = NICTrace(
            mac: interface.mac?.description, type: interface.type, tap: nil, bridge: nil, policy: nil,
            policySource: nil, path: "-", flows: [], notes: [])
        var wiring: ResolvedNIC.Wiring?
        var policy: PortPolicy?
        switch ResolvedNIC.resolve(interface, guest: guest, topology: topology, observed: observed) {
        case .success(let nic):
            if let reason = nic.unmanagedReason, nic.wiring == nil {
                trace.notes.append("vlanwire leaves this NIC alone (\(reason))")
                let linuxBridgePort = (interface.type == "bridge" || interface.type == "network") && interface.virtualPortType == nil
                if !linuxBridgePort || interface.libvirtVLAN != nil { return trace }
            }
            wiring = nic.wiring
            policy = nic.wiring?.policy
            trace.policySource = nic.wiring?.source.description
        case .failure(let problem):
            trace.notes.append("vlanwire refuses this NIC: \(problem.cause)")
            if let uplink = view.trunkRole(of: interface) {
                policy = view.requestedPolicy(of: interface, guest: guest, uplink: uplink)
                trace.policySource = policy == nil ? nil : "requested, refused"
            }
        }
        trace.policy = policy?.description
        let tap = view.tap(of: interface)
        trace.tap = tap?.name ?? interface.targetDevice
        guard let chain = chain(interface: interface, tap: tap, wiring: wiring, notes: &trace.notes) else { return trace }
        trace.bridge = chain.bridge
        trace.path = chain.nodes.map { "\($0.name) (\($0.shortRole))" }.joined(separator: " -> ") + " -> guest"
        if chain.isClassicTrunk, let bridge = chain.bridge {
            trace.notes.append(
                "\(bridge) has no vlan_filtering: it forwards every VLAN \(chain.uplink?.name ?? "the uplink") carries to \(chain.tapName), not only the policy's (a VLAN without a sub-interface anywhere is forwarded too: the seed's \"dropped\" claim does not hold on Linux 6.1, the lab showed it)"
            )
        }
        var vlans = vlan.map { [Traffic.vlan($0)] } ?? chain.defaultTraffic(policy: policy)
        if vlans.count > Self.defaultVLANLimit {
            trace.notes.append("\(vlans.count - Self.defaultVLANLimit) more VLANs not shown: trace one with --vlan N")
            vlans = Array(vlans.prefix(Self.defaultVLANLimit))
        }
        let native = nativeVLAN(policy: policy, chain: chain)
        trace.flows = vlans.map { traffic in
            var flow = FrameFlow(vlan: traffic.description, inbound: inbound(chain, traffic), outbound: outbound(chain, traffic))
            if let native, traffic.id == native.vid {
                // At each hop: the native VLAN's frame, and whether it is tagged or untagged there.
                flow.native = native.mode.rawValue
                for index in flow.inbound.hops.indices { flow.inbound.hops[index].frame += " (native VLAN)" }
                for index in flow.outbound.hops.indices { flow.outbound.hops[index].frame += " (native VLAN)" }
            }
            return flow
        }
        if let native, policy?.isNativeTagged == true {
            trace.notes.append(
                chain.vlanAware
                    ? "native VLAN \(native.vid) is tagged (native-tagged): untagged frames from the guest join VLAN \(native.vid), and frames to the guest on VLAN \(native.vid) arrive tagged: the guest reaches VLAN \(native.vid) through its own VLAN \(native.vid) sub-interface"
                    : "native VLAN \(native.vid) should be tagged (native-tagged), which \(chain.bridge ?? "a classic bridge") cannot enforce without vlan_filtering: frames reach the guest as the wire carries them"
            )
        }
        if chain.nodes.contains(where: { $0.kind == .trunkBridge || $0.kind == .accessBridge }) {
            trace.notes.append(
                "a capture on a bridge device shows only frames the bridge floods or hands to the host, not unicast between its ports: capture on the ports"
            )
        }
        return trace
    }

    // MARK: The chain of links

    enum Traffic: Equatable, CustomStringConvertible {
        case vlan(VLANID)
        /// The uplink's untagged frames.
        case untagged
        var description: String {
            switch self {
            case .vlan(let id): "\(id)"
            case .untagged: "untagged"
            }
        }
        var id: VLANID? {
            if case .vlan(let id) = self { id } else { nil }
        }
    }

    struct Node {
        enum Kind { case uplink, trunkBridge, leg, accessBridge, tap }
        var kind: Kind
        var name: String
        var link: ObservedLink?

        var shortRole: String {
            switch kind {
            case .uplink: "uplink"
            case .trunkBridge: link?.bridge?.vlanFiltering == true ? "vlan-aware bridge" : "classic bridge"
            case .leg: "VLAN leg"
            case .accessBridge: "access bridge"
            case .tap: "tap"
            }
        }
    }

    /// The links from the wire to the guest: uplink -> [trunk bridge] -> [leg -> access bridge] -> tap.
    struct Chain {
        var nodes: [Node]
        /// The VLAN the chain's leg takes from the wire (access bridges), nil for trunk bridges.
        var legVLAN: VLANID?
        var legName: String?
        /// The tap's port VLANs: the kernel's, or (guest not running) what vlanwire will set.
        var tapVLANs: PortVLANs?
        var nativeVLAN: VLANID?

        var uplink: Node? { nodes.first { $0.kind == .uplink } }
        var trunkBridge: Node? { nodes.first { $0.kind == .trunkBridge } }
        var tap: Node { nodes.last! }
        var tapName: String { tap.name }
        var bridge: String? { nodes.dropLast().last?.name }
        var vlanAware: Bool { legVLAN == nil && trunkBridge?.link?.bridge?.vlanFiltering == true }
        var isClassicTrunk: Bool { legVLAN == nil && trunkBridge != nil && !vlanAware }

        func defaultTraffic(policy: PortPolicy?) -> [Traffic] {
            if let legVLAN { return [.vlan(legVLAN)] }
            switch policy {
            case .access(let id)?: return [.vlan(id)]
            case .trunk(let tagged, let native, _)?: return (native.map { [Traffic.vlan($0)] } ?? []) + tagged.map { .vlan($0) }
            case nil:
                guard vlanAware, let vlans = tapVLANs else { return [.untagged] }
                return vlans.pvid.map { [.vlan($0)] + vlans.members.subtracting(VLANSet($0)).map { .vlan($0) } } ?? vlans.members.map { .vlan($0) }
            }
        }
    }

    func node(_ kind: Node.Kind, _ name: String) -> Node { Node(kind: kind, name: name, link: observed.link(named: name)) }

    func chain(interface: DomainInterface, tap: ObservedLink?, wiring: ResolvedNIC.Wiring?, notes: inout [String]) -> Chain? {
        let tapName = tap?.name ?? interface.targetDevice ?? "(tap)"
        if let tap, tap.master == nil {
            notes.append("tap \(tap.name) is in no bridge: its frames go nowhere")
            return nil
        }
        if tap == nil {
            notes.append(
                "no tap in this namespace: the guest is not running (or runs in another network namespace); this is the path vlanwire wires at start (libvirt names the tap then)"
            )
        }
        guard let bridgeName = tap?.master ?? wiring?.bridge.rawValue ?? interface.sourceBridge else {
            notes.append("no bridge to trace")
            return nil
        }
        if let tap, let wiring, tap.master != wiring.bridge.rawValue {
            notes.append(
                "tap \(tap.name) is in \(bridgeName), but its policy puts it in \(wiring.bridge): traced where it is (run `vlanwire doctor`)")
        }
        let tapNode = Node(kind: .tap, name: tapName, link: tap)
        var chain = Chain(
            nodes: [], tapVLANs: tap?.port?.vlans ?? wiring?.policy.map(PortVLANs.init(policy:)),
            nativeVLAN: wiring?.uplink.nativeVLAN)
        if observed.link(named: bridgeName) != nil {
            if let leg = view.feedingLegs(of: bridgeName).first {
                let legs = view.feedingLegs(of: bridgeName)
                if legs.count > 1 {
                    notes.append(
                        "\(bridgeName) is fed by \(legs.count) VLAN legs (\(legs.map(\.name).joined(separator: ", "))): traced through \(leg.name)")
                }
                chain.legVLAN = leg.vlan!.id
                chain.legName = leg.name
                let parent = leg.vlan!.parent
                var nodes: [Node] = []
                if observed.link(named: parent)?.isBridge == true {
                    if let uplink = view.uplinkPort(of: parent) {
                        nodes.append(Node(kind: .uplink, name: uplink.name, link: uplink))
                    } else {
                        notes.append("\(parent) has no uplink port vlanwire can tell: the trace starts at \(parent)")
                    }
                    nodes.append(node(.trunkBridge, parent))
                } else {
                    nodes.append(node(.uplink, parent))
                }
                chain.nodes = nodes + [Node(kind: .leg, name: leg.name, link: leg), node(.accessBridge, bridgeName), tapNode]
            } else {
                var nodes: [Node] = []
                if let uplink = view.uplinkPort(of: bridgeName, guestPorts: [tapName]) {
                    nodes.append(Node(kind: .uplink, name: uplink.name, link: uplink))
                } else {
                    notes.append("\(bridgeName) has no uplink port vlanwire can tell (name it in the config): the trace starts at \(bridgeName)")
                }
                chain.nodes = nodes + [node(.trunkBridge, bridgeName), tapNode]
            }
            return chain
        }
        // The bridge does not exist yet: what vlanwire creates at prepare.
        guard let wiring else {
            notes.append("bridge \(bridgeName) does not exist")
            return nil
        }
        let uplinkNodes = wiring.uplink.interface.map { [node(.uplink, $0.rawValue)] } ?? []
        if let path = wiring.accessPath {
            chain.legVLAN = path.vid
            chain.legName = path.leg.rawValue
            let trunk = path.legParent == wiring.uplink.interface ? [] : [node(.trunkBridge, path.legParent.rawValue)]
            chain.nodes = uplinkNodes + trunk + [node(.leg, path.leg.rawValue), node(.accessBridge, path.bridge.rawValue), tapNode]
        } else {
            chain.nodes = uplinkNodes + [node(.trunkBridge, bridgeName), tapNode]
        }
        return chain
    }

    // MARK: Frames

    func capture(_ name: String, tag: VLANID?, mixed: Bool) -> String {
        commandPrefix + "tcpdump -i \(name) -e -n" + (tag.map { " vlan \($0)" } ?? (mixed ? " not vlan" : ""))
    }

    /// The NIC's native VLAN and how it leaves the tap: the policy's, or on a vlan-aware bridge the
    /// tap's PVID (tagged when the port does not send it untagged).
    func nativeVLAN(policy: PortPolicy?, chain: Chain) -> (vid: VLANID, mode: NativeMode)? {
        if chain.legVLAN != nil { return nil }
        if chain.vlanAware, let vlans = chain.tapVLANs, let pvid = vlans.pvid, case .trunk? = policy {
            return (pvid, vlans.untagged.contains(pvid) ? .untagged : .tagged)
        }
        return policy?.native
    }

    func frameText(_ tag: VLANID?) -> String { tag.map { "tagged \($0)" } ?? "untagged" }

    func role(_ node: Node, in chain: Chain) -> String {
        switch node.kind {
        case .uplink: return "uplink" + (node.link?.master.map { ", port of \($0)" } ?? "")
        case .trunkBridge: return chain.vlanAware || node.link?.bridge?.vlanFiltering == true ? "trunk bridge, vlan-aware" : "trunk bridge, classic"
        case .leg:
            return
                "VLAN \(chain.legVLAN.map { "\($0)" } ?? "?") leg on \(node.link?.vlan?.parent ?? chain.nodes.first { $0.kind == .trunkBridge || $0.kind == .uplink }?.name ?? "?")"
        case .accessBridge: return "access bridge" + (chain.legVLAN.map { " of VLAN \($0)" } ?? "")
        case .tap:
            let bridge = chain.bridge.map { ", port of \($0)" } ?? ""
            return "tap" + bridge + (chain.vlanAware ? " (VLANs: \(chain.tapVLANs.map { "\($0)" } ?? "unknown"))" : "")
        }
    }

    func state(_ node: Node) -> String {
        guard let link = node.link else { return "absent" }
        return link.stateText + (link.port.map { ", \($0.state)" } ?? "")
    }

    /// Why nothing passes `node` at all: absent, down, or (as a port) not forwarding.
    func blocked(_ node: Node) -> String? {
        guard let link = node.link else {
            return node.kind == .tap
                ? "no tap: the guest is not running here" : "\(node.name) does not exist (vlanwire creates it at the guest's prepare)"
        }
        if !link.adminUp { return "\(link.name) is administratively down (ip link set \(link.name) up)" }
        if !link.isPassing { return "\(link.name) is \(link.stateText)" }
        if let port = link.port, port.state != "forwarding" { return "port \(link.name) of \(link.master ?? "?") is \(port.state), not forwarding" }
        return nil
    }

    struct Walk {
        var hops: [Hop] = []
        var droppedAt: String?

        mutating func add(_ hop: Hop) { hops.append(hop) }
        mutating func drop(_ reason: String) {
            hops[hops.count - 1].drop = reason
            droppedAt = hops[hops.count - 1].link
        }
    }

    /// Wire to guest.
    func inbound(_ chain: Chain, _ traffic: Traffic) -> FramePassage {
        var walk = Walk()
        var tag = wireTag(chain, traffic)
        // Inside a vlan-aware bridge: the VLAN the frame was classified into.
        var bridgeVLAN: VLANID?
        let nodes = chain.nodes
        for (index, node) in nodes.enumerated() {
            let next = index + 1 < nodes.count ? nodes[index + 1] : nil
            let mixed = node.kind == .uplink || node.kind == .trunkBridge || (node.kind == .tap && chain.legVLAN == nil)
            // A VLAN leg hands frames up without their tag: a capture on it shows them untagged.
            if node.kind == .leg { tag = nil }
            walk.add(
                Hop(
                    link: node.name, role: role(node, in: chain), state: state(node), frame: frameText(tag),
                    capture: node.link == nil ? nil : capture(node.name, tag: tag, mixed: mixed)))
            if let reason = blocked(node) {
                walk.drop(reason)
                break
            }
            switch node.kind {
            case .uplink:
                if next?.kind == .trunkBridge, let id = tag,
                    let thief = observed.vlanLegs(on: node.name).first(where: { $0.vlan?.id == id && $0.name != chain.legName })
                {
                    walk.drop(
                        "\(thief.name) (VLAN \(id) leg on \(node.name)) takes the frame before \(next!.name) sees it: remove it, hang VLAN legs off \(next!.name) (the seed's trouble)"
                    )
                }
                if next?.kind == .leg, tag != chain.legVLAN {
                    walk.drop("only VLAN \(chain.legVLAN!) frames go to \(next!.name); \(frameText(tag)) frames stay on \(node.name)")
                }
                if next?.kind == .trunkBridge, chain.vlanAware || next?.link?.bridge?.vlanFiltering == true, walk.droppedAt == nil {
                    let vlans = node.link?.port?.vlans ?? PortVLANs()
                    guard let id = tag ?? vlans.pvid else {
                        walk.drop("\(node.name) has no PVID on \(next!.name): untagged frames from the wire are dropped")
                        break
                    }
                    guard vlans.members.contains(id) else {
                        walk.drop("\(node.name) is not a member of VLAN \(id) on \(next!.name): add it (bridge vlan add dev \(node.name) vid \(id))")
                        break
                    }
                    bridgeVLAN = id
                }
            case .trunkBridge:
                if next?.kind == .leg, let legVLAN = chain.legVLAN {
                    if (node.link?.bridge?.vlanFiltering == true ? bridgeVLAN : tag) != legVLAN {
                        walk.drop("\(next!.name) takes only VLAN \(legVLAN); \(node.name) forwards this frame to its other ports")
                    }
                } else if next?.kind == .tap, chain.vlanAware {
                    let vlans = chain.tapVLANs ?? PortVLANs()
                    guard let id = bridgeVLAN, vlans.members.contains(id) else {
                        walk.drop(
                            "\(chain.tapName) is not a member of VLAN \(bridgeVLAN.map { "\($0)" } ?? "?") on \(node.name): not forwarded to it")
                        break
                    }
                    tag = vlans.untagged.contains(id) ? nil : id
                }
            case .leg, .accessBridge, .tap:
                break
            }
            if walk.droppedAt != nil { break }
        }
        if walk.droppedAt == nil {
            walk.add(Hop(link: "guest", role: "the guest's NIC", state: "-", frame: frameText(tag), capture: nil))
        }
        let summary =
            walk.droppedAt.map { "dropped at \($0)" }
            ?? "delivered: the guest sees it \(frameText(tag))" + (tag.map { " (it terminates VLAN \($0) itself, e.g. eth0.\($0))" } ?? "")
        return FramePassage(direction: .inbound, hops: walk.hops, droppedAt: walk.droppedAt, summary: summary)
    }

    /// Guest to wire.
    func outbound(_ chain: Chain, _ traffic: Traffic) -> FramePassage {
        var walk = Walk()
        var tag = guestTag(chain, traffic)
        walk.add(Hop(link: "guest", role: "the guest's NIC", state: "-", frame: frameText(tag), capture: nil))
        var bridgeVLAN: VLANID?
        let nodes = Array(chain.nodes.reversed())
        for (index, node) in nodes.enumerated() {
            let next = index + 1 < nodes.count ? nodes[index + 1] : nil
            let mixed = node.kind == .uplink || node.kind == .trunkBridge || (node.kind == .tap && chain.legVLAN == nil)
            walk.add(
                Hop(
                    link: node.name, role: role(node, in: chain), state: state(node), frame: frameText(tag),
                    capture: node.link == nil ? nil : capture(node.name, tag: tag, mixed: mixed)))
            if let reason = blocked(node) {
                walk.drop(reason)
                break
            }
            switch node.kind {
            case .tap:
                if chain.vlanAware {
                    let vlans = chain.tapVLANs ?? PortVLANs()
                    guard let id = tag ?? vlans.pvid else {
                        walk.drop("\(node.name) has no PVID: untagged frames from the guest are dropped")
                        break
                    }
                    guard vlans.members.contains(id) else {
                        walk.drop("\(node.name) is not a member of VLAN \(id): the bridge drops the guest's frame")
                        break
                    }
                    if case .vlan(let wanted) = traffic, id != wanted {
                        walk.drop("untagged frames from the guest go to VLAN \(id) (\(node.name)'s PVID), not VLAN \(wanted)")
                        break
                    }
                    bridgeVLAN = id
                }
            case .leg:
                tag = chain.legVLAN
                bridgeVLAN = chain.legVLAN
                if next?.kind == .trunkBridge, next?.link?.bridge?.vlanFiltering == true {
                    walk.hops[walk.hops.count - 1].role +=
                        " (vlan-aware parent: passes only if \(next!.name) itself is a member of VLAN \(chain.legVLAN!), see `bridge vlan show dev \(next!.name)`)"
                }
            case .trunkBridge:
                if next?.kind == .uplink, node.link?.bridge?.vlanFiltering == true {
                    let vlans = next?.link?.port?.vlans ?? PortVLANs()
                    guard let id = bridgeVLAN, vlans.members.contains(id) else {
                        walk.drop(
                            "uplink \(next!.name) is not a member of VLAN \(bridgeVLAN.map { "\($0)" } ?? "?"): not forwarded to the wire (bridge vlan add dev \(next!.name) vid \(bridgeVLAN.map { "\($0)" } ?? "N"))"
                        )
                        break
                    }
                    tag = vlans.untagged.contains(id) ? nil : id
                }
            case .accessBridge, .uplink:
                break
            }
            if walk.droppedAt != nil { break }
        }
        let summary =
            walk.droppedAt.map { "dropped at \($0)" }
            ?? "delivered: leaves \(chain.nodes.first?.name ?? "the bridge") \(frameText(tag))"
        return FramePassage(direction: .outbound, hops: walk.hops, droppedAt: walk.droppedAt, summary: summary)
    }

    /// The frame as it is on the wire.
    func wireTag(_ chain: Chain, _ traffic: Traffic) -> VLANID? {
        guard let id = traffic.id else { return nil }
        if chain.legVLAN != nil { return id }
        if chain.vlanAware { return chain.uplink?.link?.port?.vlans?.untagged.contains(id) == true ? nil : id }
        return id == chain.nativeVLAN ? nil : id
    }

    /// The frame as the guest sends it: as the guest receives that VLAN.
    func guestTag(_ chain: Chain, _ traffic: Traffic) -> VLANID? {
        guard let id = traffic.id, chain.legVLAN == nil else { return nil }
        if chain.vlanAware { return chain.tapVLANs?.untagged.contains(id) == true ? nil : id }
        return id == chain.nativeVLAN ? nil : id
    }
}
