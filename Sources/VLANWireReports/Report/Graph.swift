package import VLANWire

/// A Graphviz digraph, written deterministically (nodes and edges in the order added, one edge per
/// pair with its labels joined), every string quoted and escaped: link and guest names come from
/// anyone who may define a domain.
struct DotGraph {
    struct Node {
        var id: String
        var label: String
        var shape: String
        var problem: Bool
        var tooltip: String?
    }

    struct Edge {
        var from: String
        var to: String
        var labels: [String]
        var problem: Bool
        var dashed: Bool
    }

    var name: String
    private(set) var nodes: [Node] = []
    private(set) var edges: [Edge] = []

    init(name: String) { self.name = name }

    /// Adds the node, or marks an existing one as a problem when this one is.
    mutating func node(_ id: String, label: String, shape: String, problem: Bool = false, tooltip: String? = nil) {
        if let index = nodes.firstIndex(where: { $0.id == id }) {
            nodes[index].problem = nodes[index].problem || problem
            return
        }
        nodes.append(Node(id: id, label: label, shape: shape, problem: problem, tooltip: tooltip))
    }

    /// Adds the edge, or the label to the existing edge between the two.
    mutating func edge(_ from: String, _ to: String, label: String, problem: Bool = false, dashed: Bool = false) {
        if let index = edges.firstIndex(where: { $0.from == from && $0.to == to && $0.dashed == dashed }) {
            if !edges[index].labels.contains(label) { edges[index].labels.append(label) }
            edges[index].problem = edges[index].problem || problem
            return
        }
        edges.append(Edge(from: from, to: to, labels: label.isEmpty ? [] : [label], problem: problem, dashed: dashed))
    }

    var text: String {
        var out = "digraph \(Self.quoted(name)) {\n"
        out += "  rankdir=LR;\n  node [fontname=\"sans-serif\", fontsize=10];\n  edge [fontname=\"sans-serif\", fontsize=9];\n"
        for node in nodes {
            var attributes = ["label=\(Self.quoted(node.label))", "shape=\(node.shape)"]
            if node.problem { attributes += ["color=red", "fontcolor=red", "penwidth=2"] }
            if let tooltip = node.tooltip { attributes.append("tooltip=\(Self.quoted(tooltip))") }
            out += "  \(Self.quoted(node.id)) [\(attributes.joined(separator: ", "))];\n"
        }
        for edge in edges {
            var attributes = ["label=\(Self.quoted(edge.labels.joined(separator: "\n")))"]
            if edge.problem { attributes += ["color=red", "fontcolor=red", "penwidth=2"] }
            if edge.dashed { attributes.append("style=dashed") }
            out += "  \(Self.quoted(edge.from)) -> \(Self.quoted(edge.to)) [\(attributes.joined(separator: ", "))];\n"
        }
        return out + "}\n"
    }

    /// A DOT string literal: `"` and `\` escaped, line breaks as `\n`, other control characters dropped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f: continue
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// `vlanwire status --format dot`: the host as a picture. Uplinks, bridges, VLAN legs and taps as
/// nodes, each port edge labelled with the VLANs it carries (its port VLANs on a vlan-aware bridge,
/// every VLAN on a classic one, a leg's VLAN tagged below it and untagged above), running guests
/// joined to their taps by their policy. What is down, drifted, refused or lets iptables see
/// bridged frames is red, with the reason.
package enum HostGraph {
    package static func dot(observed: ObservedState, libvirt: LibvirtView) -> String {
        var graph = DotGraph(name: "vlanwire")
        let bridges = observed.links.filter(\.isBridge).sorted { $0.name < $1.name }
        let netfilter = observed.bridgeNetfilter?.enabled ?? []
        for bridge in bridges {
            let filtering = bridge.bridge?.vlanFiltering == true
            let ports = observed.ports(of: bridge.name).sorted { $0.name < $1.name }
            // A classic bridge fed by one VLAN leg is an access bridge: its ports see that VLAN untagged.
            let accessVLAN = filtering ? nil : ports.compactMap(\.vlan).first?.id
            var lines = [bridge.name, filtering ? "vlan-aware bridge" : accessVLAN.map { "access bridge, VLAN \($0)" } ?? "classic bridge"]
            if bridge.isMarkedByVLANWire { lines.append("created by vlanwire") }
            var problem = false
            if let reason = downReason(bridge) {
                lines.append(reason)
                problem = true
            }
            if !netfilter.isEmpty, bridge.bridge?.nfCallIPTables != false {
                lines.append("bridged frames pass iptables (\(netfilter.joined(separator: ", ")))")
                problem = true
            }
            graph.node(bridge.name, label: lines.joined(separator: "\n"), shape: "box", problem: problem)
            for port in ports {
                addLink(port, to: &graph)
                let carried: String
                if let vlan = port.vlan {
                    carried = "VLAN \(vlan.id) untagged"
                } else if filtering {
                    carried = port.port?.vlans.map { $0.members.isEmpty ? "no VLAN" : "VLANs: \($0)" } ?? "VLANs unknown"
                } else if let accessVLAN {
                    carried = "VLAN \(accessVLAN) untagged"
                } else {
                    carried = "every VLAN (classic bridge)"
                }
                let state = port.port?.state ?? "forwarding"
                let blocked = state != "forwarding"
                let label = carried + (blocked ? "\nport \(state)" : "")
                let problem = blocked || (filtering && port.port?.vlans?.members.isEmpty == true && !isTap(port))
                // Drawn from the wire to the guests: uplinks and legs into the bridge, the bridge into its taps.
                if isTap(port) {
                    graph.edge(bridge.name, port.name, label: label, problem: problem)
                } else {
                    graph.edge(port.name, bridge.name, label: label, problem: problem)
                }
            }
        }
        for leg in observed.links.filter({ $0.vlan != nil }).sorted(by: { $0.name < $1.name }) {
            addLink(leg, to: &graph)
            let vlan = leg.vlan!
            guard let parent = observed.link(named: vlan.parent) else { continue }
            addLink(parent, to: &graph)
            // A leg on a bridge port takes its VLAN's frames before the bridge sees them (the seed's trouble).
            if let bridge = parent.master {
                let reason = "takes VLAN \(vlan.id) before \(bridge) sees it:\nhang VLAN legs off \(bridge), not \(parent.name)"
                graph.node(leg.name, label: "", shape: "hexagon", problem: true)
                graph.edge(vlan.parent, leg.name, label: "VLAN \(vlan.id) tagged\n" + reason, problem: true)
            } else {
                graph.edge(vlan.parent, leg.name, label: "VLAN \(vlan.id) tagged")
            }
        }
        for guest in libvirt.guests {
            let id = "guest " + guest.name
            graph.node(
                id, label: "guest \(guest.name)" + (guest.error.map { "\n\($0)" } ?? ""), shape: "component", problem: guest.error != nil)
            for nic in guest.nics {
                let mac = nic.mac?.description ?? "no MAC"
                var lines = [mac, nic.policy.map { "policy \($0)" } ?? (nic.managed ? "no policy" : "not managed")]
                lines += nic.mismatches.map(\.message)
                if let reason = nic.reason, nic.mismatches.isEmpty, nic.managed { lines.append(reason) }
                guard let tap = nic.tap else {
                    let missing = "\(guest.name) \(mac): no tap"
                    graph.node(missing, label: "no tap\n" + nic.source, shape: "box", problem: true)
                    graph.edge(missing, id, label: lines.joined(separator: "\n"), problem: true, dashed: true)
                    continue
                }
                graph.edge(tap, id, label: lines.joined(separator: "\n"), problem: !nic.mismatches.isEmpty)
            }
        }
        return graph.text
    }

    /// A guest's side: a tap, or a link with libvirt's tap MAC (fe:/fa:, a stand-in guest's veth).
    static func isTap(_ link: ObservedLink) -> Bool {
        link.kind == "tun" || link.kind == "tap" || link.mac.map { [0xfe, 0xfa].contains($0.value >> 40) } == true
    }

    private static func addLink(_ link: ObservedLink, to graph: inout DotGraph) {
        var lines = [link.name]
        let shape: String
        switch link.kind {
        case _ where isTap(link):
            lines.append(link.kind == "tun" || link.kind == "tap" ? "tap" : "tap (\(link.kind ?? "link") with libvirt's tap MAC)")
            shape = "box"
        case "vlan":
            lines.append("VLAN \(link.vlan?.id.description ?? "?") leg on \(link.vlan?.parent ?? "?")")
            shape = "hexagon"
        case "bridge":
            lines.append("bridge")
            shape = "box"
        default:
            lines.append(link.kind.map { "\($0), uplink" } ?? "uplink")
            shape = "ellipse"
        }
        if link.isMarkedByVLANWire { lines.append("created by vlanwire") }
        let down = downReason(link)
        if let down { lines.append(down) }
        graph.node(link.name, label: lines.joined(separator: "\n"), shape: shape, problem: down != nil)
    }

    /// Why frames stop at this link: admin down, or no carrier (a tap of a paused guest included).
    static func downReason(_ link: ObservedLink) -> String? {
        if !link.adminUp { return "down (admin)" }
        if link.operState == "down" || link.operState == "lowerlayerdown" { return "no carrier (\(link.operState))" }
        return nil
    }
}

extension GuestTrace {
    /// `vlanwire trace GUEST --format dot`: each NIC's path, wire on the left, guest on the right,
    /// each edge labelled with the traced VLANs' frames as a capture on its far end shows them
    /// (`5: tagged 5`); where a frame is dropped, a red note says why.
    package var dot: String {
        var graph = DotGraph(name: "trace " + guest)
        let guestID = "guest " + guest
        graph.node(guestID, label: "guest \(guest)", shape: "component")
        var drops = 0
        func id(_ hop: Hop) -> String { hop.link == "guest" ? guestID : hop.link }
        for nic in nics {
            for flow in nic.flows {
                // Drawn wire -> guest: each edge gets the frame a capture on its far end shows, per
                // direction (outbound hops reversed, so "far" is the wire side for them).
                var frames: [(from: String, to: String, inbound: String?, outbound: String?)] = []
                for passage in [flow.inbound, flow.outbound] {
                    let inbound = passage.direction == .inbound
                    let hops = inbound ? passage.hops : passage.hops.reversed()
                    for hop in hops where hop.link != "guest" {
                        let problem = hop.state.contains("down") || hop.state.contains("absent")
                        graph.node(hop.link, label: "\(hop.link)\n\(hop.role)\n\(hop.state)", shape: Self.shape(hop.role), problem: problem)
                    }
                    for (near, far) in zip(hops, hops.dropFirst()) {
                        let frame = inbound ? far.frame : near.frame
                        if let index = frames.firstIndex(where: { $0.from == id(near) && $0.to == id(far) }) {
                            if inbound { frames[index].inbound = frame } else { frames[index].outbound = frame }
                        } else {
                            frames.append((id(near), id(far), inbound ? frame : nil, inbound ? nil : frame))
                        }
                    }
                    if let dropped = passage.hops.last, let reason = dropped.drop {
                        drops += 1
                        let note = "drop \(drops)"
                        graph.node(note, label: "VLAN \(flow.vlan) \(passage.direction.rawValue): DROPPED\n\(reason)", shape: "note", problem: true)
                        graph.edge(id(dropped), note, label: "", problem: true, dashed: true)
                    }
                }
                for edge in frames {
                    let label: String
                    switch (edge.inbound, edge.outbound) {
                    case (let inbound?, let outbound?) where inbound == outbound: label = "VLAN \(flow.vlan): \(inbound)"
                    case (let inbound, let outbound):
                        label = "VLAN \(flow.vlan): in \(inbound ?? "(dropped before)"), out \(outbound ?? "(dropped before)")"
                    }
                    graph.edge(edge.from, edge.to, label: label)
                }
            }
            if let tap = nic.tap, nic.flows.isEmpty {
                graph.node(tap, label: "\(tap)\ntap", shape: "box")
                graph.edge(tap, guestID, label: nic.mac ?? "")
            }
        }
        return graph.text
    }

    private static func shape(_ role: String) -> String {
        if role.hasPrefix("uplink") { return "ellipse" }
        if role.hasPrefix("VLAN") { return "hexagon" }
        return "box"
    }
}
