extension Action {
    /// The actions that undo this one, computed from `before`: the kernel state before the run
    /// that applied it. Undoing a run = applying the inverses of its applied actions in reverse
    /// order; each inverse puts back the values `before` had for what its action touched.
    ///
    /// `[]` when the action changed nothing (`setUp` of a link that was up) or when another
    /// action's inverse covers it (a link created in the run is deleted, which also drops its
    /// ports and VLANs). nil when it cannot be undone: a deleted link is gone with its index, MAC
    /// and ports; a bridge whose nf_call_* switches differed from each other cannot be put back
    /// with one `setBridgeNetfilter`; a former master whose name is not a valid `LinkName`.
    public func inverse(before: ObservedState) -> [Action]? {
        switch self {
        case .createBridge(let spec):
            return [.deleteLink(spec.name)]
        case .createVLANLeg(let name, _, _):
            return [.deleteLink(name)]
        case .enslave(let link, let bridge):
            let previous = before.link(named: link)
            guard let master = previous?.master else { return [.releaseFromBridge(link: link)] }
            if master == bridge.rawValue { return [] }
            return Self.reenslave(link, to: master, vlans: previous?.port?.vlans)
        case .releaseFromBridge(let link):
            guard let previous = before.link(named: link), let master = previous.master else { return [] }
            return Self.reenslave(link, to: master, vlans: previous.port?.vlans)
        case .setUp(let link):
            return before.link(named: link)?.adminUp == false ? [.setDown(link)] : []
        case .setDown(let link):
            return before.link(named: link)?.adminUp == true ? [.setUp(link)] : []
        case .setVLANFiltering(let bridge, let enabled):
            guard let previous = before.link(named: bridge)?.bridge?.vlanFiltering, previous != enabled else { return [] }
            return [.setVLANFiltering(bridge: bridge, enabled: previous)]
        case .setBridgeNetfilter(let bridge, let enabled):
            guard let info = before.link(named: bridge)?.bridge else { return [] }
            let reported = [info.nfCallIPTables, info.nfCallIP6Tables, info.nfCallARPTables].compactMap { $0 }
            guard let previous = reported.first else { return [] }  // the kernel has no such switches
            guard reported.allSatisfy({ $0 == previous }) else { return nil }
            return previous == enabled ? [] : [.setBridgeNetfilter(bridge: bridge, enabled: previous)]
        case .addPortVLANs(let port, let added):
            // Not a port before the run: the inverse of its enslave or creation drops its VLANs.
            guard let previous = before.link(named: port)?.port else { return [] }
            guard let had = previous.vlans else { return nil }
            // A new PVID takes the flag from the old one, so the old PVID's entry changed too.
            var touched = added.members
            if added.pvid != nil, let oldPVID = had.pvid { touched = touched.union(VLANSet(oldPVID)) }
            return Self.restore(port, to: had, within: touched)
        case .removePortVLANs(let port, let removed):
            guard let previous = before.link(named: port)?.port else { return [] }
            guard let had = previous.vlans else { return nil }
            let kept = had.restricted(to: removed)
            return kept.members.isEmpty ? [] : [.addPortVLANs(port: port, vlans: kept)]
        case .deleteLink:
            return nil
        case .setMTU(let link, let mtu):
            // A link created in the run goes with its creation's inverse.
            guard let previous = before.link(named: link)?.mtu, previous != mtu else { return [] }
            return [.setMTU(link: link, mtu: previous)]
        case .setDefaultPVID(let bridge, _, _, let spare):
            // Back to the default `before` had, by the same way round: no port changes.
            guard let link = before.link(named: bridge), let previous = link.bridge?.defaultPVID else { return nil }
            let ports = before.ports(of: bridge.rawValue).compactMap { try? LinkName($0.name) } + [bridge]
            return [.setDefaultPVID(bridge: bridge, to: previous == 0 ? nil : try? VLANID(previous), keeping: ports, spare: spare)]
        }
    }

    /// Puts `port`'s membership of the VLANs in `touched` back to `had`: removes what was not
    /// there, re-adds what was with its old flags (adding an existing VLAN resets its flags).
    private static func restore(_ port: LinkName, to had: PortVLANs, within touched: VLANSet) -> [Action] {
        var actions: [Action] = []
        let extra = touched.subtracting(had.members)
        if !extra.isEmpty { actions.append(.removePortVLANs(port: port, vlans: extra)) }
        let kept = had.restricted(to: touched)
        if !kept.members.isEmpty { actions.append(.addPortVLANs(port: port, vlans: kept)) }
        return actions
    }

    /// Back into the old bridge. A port (re)joining a bridge gets the kernel's default VLANs, so
    /// when its old VLANs are known they are put back exactly: everything else removed, old set re-added.
    private static func reenslave(_ link: LinkName, to master: String, vlans: PortVLANs?) -> [Action]? {
        guard let bridge = try? LinkName(master) else { return nil }
        var actions: [Action] = [.enslave(link: link, bridge: bridge)]
        if let vlans { actions += restore(link, to: vlans, within: .all) }
        return actions
    }
}

extension PortVLANs {
    /// The part of this membership inside `vlans`, with the same flags.
    public func restricted(to vlans: VLANSet) -> PortVLANs {
        PortVLANs(
            members: members.intersection(vlans), untagged: untagged.intersection(vlans),
            pvid: pvid.flatMap { vlans.contains($0) ? $0 : nil })
    }
}
