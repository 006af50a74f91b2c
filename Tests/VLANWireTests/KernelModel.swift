import VLANWireTestSupport

@testable import VLANWire

/// A model of the kernel's reaction to each action, for checking plans without root.
/// (The real kernel runs the same plans in the netlink tests and the lab; this catches planner
/// mistakes in milliseconds, e.g. a second plan that is not empty.)
struct KernelModel {
    var state: ObservedState
    var nextIndex: Int32 = 1000

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    mutating func apply(_ actions: [Action]) throws {
        for action in actions { try apply(action) }
    }

    func index(of name: LinkName) throws -> Int {
        guard let index = state.links.firstIndex(where: { $0.name == name.rawValue }) else {
            throw Failure(description: "no link \(name)")
        }
        return index
    }

    mutating func apply(_ action: Action) throws {
        switch action {
        case .createBridge(let spec):
            guard state.link(named: spec.name) == nil else { throw Failure(description: "\(spec.name) exists") }
            nextIndex += 1
            state.links.append(
                ObservedLink(
                    index: nextIndex, name: spec.name.rawValue, kind: "bridge", adminUp: false,
                    operState: "down", alias: LinkMark.namespaceDefault.alias,
                    bridge: BridgeInfo(
                        vlanFiltering: spec.vlanFiltering, stpEnabled: spec.stp,
                        forwardDelay: spec.forwardDelay)))
        case .createVLANLeg(let name, let parent, let vid):
            guard state.link(named: name) == nil else { throw Failure(description: "\(name) exists") }
            _ = try index(of: parent)
            nextIndex += 1
            state.links.append(
                ObservedLink(
                    index: nextIndex, name: name.rawValue, kind: "vlan", adminUp: false,
                    operState: "down", mtu: state.link(named: parent)?.mtu ?? 1500, alias: LinkMark.namespaceDefault.alias,
                    vlan: VLANLinkInfo(id: vid, parent: parent.rawValue)))
        case .enslave(let link, let bridge):
            let i = try index(of: link)
            let b = try index(of: bridge)
            guard state.links[b].isBridge else { throw Failure(description: "\(bridge) is not a bridge") }
            state.links[i].master = bridge.rawValue
            let closed = state.links[b].bridge!.defaultPVID == 0
            state.links[i].port = BridgePortInfo(vlans: state.links[b].bridge!.vlanFiltering ? (closed ? PortVLANs() : .kernelDefault) : nil)
        case .releaseFromBridge(let link):
            let i = try index(of: link)
            state.links[i].master = nil
            state.links[i].port = nil
        case .setUp(let link): state.links[try index(of: link)].adminUp = true
        case .setDown(let link): state.links[try index(of: link)].adminUp = false
        case .setVLANFiltering(let bridge, let enabled):
            let b = try index(of: bridge)
            state.links[b].bridge!.vlanFiltering = enabled
            for i in state.links.indices where state.links[i].master == bridge.rawValue {
                state.links[i].port?.vlans = enabled ? .kernelDefault : nil
            }
        case .setBridgeNetfilter(let bridge, let enabled):
            let b = try index(of: bridge)
            state.links[b].bridge!.nfCallIPTables = enabled
            state.links[b].bridge!.nfCallIP6Tables = enabled
            state.links[b].bridge!.nfCallARPTables = enabled
        case .addPortVLANs(let port, let add):
            let i = try index(of: port)
            guard let current = state.links[i].port?.vlans else { throw Failure(description: "\(port) has no VLANs (not in a filtering bridge)") }
            var pvid = current.pvid
            if let newPVID = add.pvid { pvid = newPVID } else if let old = pvid, add.members.contains(old) { pvid = nil }
            let untagged = current.untagged.subtracting(add.members).union(add.untagged)
            state.links[i].port?.vlans = PortVLANs(members: current.members.union(add.members), untagged: untagged, pvid: pvid)
        case .removePortVLANs(let port, let remove):
            let i = try index(of: port)
            guard let current = state.links[i].port?.vlans else { throw Failure(description: "\(port) has no VLANs") }
            state.links[i].port?.vlans = PortVLANs(
                members: current.members.subtracting(remove),
                untagged: current.untagged.subtracting(remove),
                pvid: current.pvid.flatMap { remove.contains($0) ? nil : $0 })
        case .setMTU(let link, let mtu):
            let i = try index(of: link)
            if state.links[i].kind == "vlan", let parent = state.link(named: state.links[i].vlan!.parent), mtu > parent.mtu {
                throw Failure(description: "\(link): MTU \(mtu) exceeds its parent's \(parent.mtu)")
            }
            state.links[i].mtu = mtu
        case .setDefaultPVID(let bridge, let to, _, _):
            // By way of the spare VLAN, no port changes (Action.setDefaultPVID).
            state.links[try index(of: bridge)].bridge!.defaultPVID = to.map { Int($0.value) } ?? 0
        case .deleteLink(let name):
            _ = try index(of: name)
            state.links.removeAll { $0.name == name.rawValue || $0.vlan?.parent == name.rawValue }
            for i in state.links.indices where state.links[i].master == name.rawValue {
                state.links[i].master = nil
                state.links[i].port = nil
            }
        }
    }
}

/// A host: eth0 (physical), optionally in bridge `trunk` (vlan-filtering or not), and taps for guest NICs.
func host(
    trunk: String? = "br0", vlanFiltering: Bool = false, uplinkVLANs: PortVLANs? = nil,
    taps: [(name: String, mac: String, bridge: String)] = [], extra: [ObservedLink] = [],
    capabilities: KernelCapabilities = KernelCapabilities(vlan8021Q: true, bridgeVLANFiltering: true)
) -> ObservedState {
    var links = [
        ObservedLink(
            index: 2, name: "eth0", master: trunk,
            port: trunk.map { _ in BridgePortInfo(vlans: vlanFiltering ? (uplinkVLANs ?? .kernelDefault) : nil) })
    ]
    if let trunk {
        links.append(ObservedLink(index: 3, name: trunk, kind: "bridge", bridge: BridgeInfo(vlanFiltering: vlanFiltering)))
    }
    var index: Int32 = 10
    for tap in taps {
        index += 1
        let bridge = links.first { $0.name == tap.bridge }
        links.append(
            ObservedLink(
                index: index, name: tap.name, kind: "tun", master: tap.bridge,
                mac: mac(tap.mac).libvirtTapAddress,
                port: BridgePortInfo(vlans: bridge?.bridge?.vlanFiltering == true ? .kernelDefault : nil)))
    }
    return ObservedState(complete: true, links: links + extra, capabilities: capabilities)
}

extension ObservedState {
    /// Changes one link of the snapshot.
    mutating func change(_ name: String, _ body: (inout ObservedLink) -> Void) {
        let index = links.firstIndex { $0.name == name }!
        body(&links[index])
    }
}
