/// Pure: (domain, hook operation, topology, observed kernel state, vlanwire state) -> ordered actions.
///
/// Idempotent: when the kernel already matches the policy, the plan has no actions. Nothing here
/// touches the system; executors apply the plan, `vlanwire plan` prints it.
public struct Planner: Sendable {
    public var topology: Topology
    public var observed: ObservedState
    public var state: VLANWireState
    /// The mark of the state planned for: only links carrying it are deleted.
    public var mark: LinkMark

    public init(topology: Topology, observed: ObservedState, state: VLANWireState = .empty, mark: LinkMark = .namespaceDefault) {
        self.topology = topology
        self.observed = observed
        self.state = state
        self.mark = mark
    }

    /// Every NIC of the guest resolved, or every problem found (one per NIC at most).
    public func resolve(_ domain: DomainDescription) throws(Refusal) -> [ResolvedNIC] {
        var nics: [ResolvedNIC] = []
        var problems: [Problem] = []
        for interface in domain.interfaces {
            switch ResolvedNIC.resolve(interface, guest: domain, topology: topology, observed: observed) {
            case .success(let nic): nics.append(nic)
            case .failure(let problem): problems.append(problem)
            }
        }
        guard problems.isEmpty else { throw Refusal(problems) }
        return nics
    }

    public func plan(_ domain: DomainDescription, operation: HookOperation) throws(Refusal) -> Plan {
        if operation.phase == .release { return planRelease(guest: domain.name, operation: operation) }
        let nics = try resolve(domain)
        var builder = PlanBuilder(guest: domain.name, observed: observed, topology: topology)
        var records: [NICRecord] = []
        for nic in nics {
            guard let wiring = nic.wiring, let policy = wiring.policy else { continue }
            builder.infrastructure(for: nic, wiring: wiring)
            builder.pathMTU(for: nic, wiring: wiring)
            var record = NICRecord(
                mac: nic.interface.mac ?? MACAddress(octets: [0, 0, 0, 0, 0, 0]), policy: policy,
                bridge: wiring.bridge,
                uses: wiring.accessPath.map { [$0.bridge, builder.legInUse[$0.bridge] ?? $0.leg] } ?? [])
            if operation.phase == .ports { builder.port(for: nic, wiring: wiring, record: &record) }
            records.append(record)
        }
        guard builder.problems.isEmpty else { throw Refusal(builder.problems) }
        let record = GuestRecord(name: domain.name, uuid: domain.uuid, nics: records)
        return Plan(
            guest: domain.name, operation: operation, nics: nics, actions: builder.actions, notes: builder.notes + domain.pendingPolicyNotes,
            record: record)
    }

    /// Forgets the guest and deletes the links vlanwire created that nothing uses any more.
    /// Never refuses: a release that cannot delete something keeps it and says why.
    public func planRelease(guest: String, operation: HookOperation = .release) -> Plan {
        var plan = Plan(guest: guest, operation: operation)
        // Port VLANs this guest's taps got, when the tap is still the same link (veth stand-ins, slow teardown).
        for nic in state.guest(named: guest)?.nics ?? [] {
            guard let tap = nic.tap, let vlans = nic.portVLANs, let link = observed.link(named: tap),
                link.index == nic.tapIndex, let current = link.port?.vlans
            else { continue }
            let ours = current.members.intersection(vlans.members)
            if !ours.isEmpty { plan.actions.append(.removePortVLANs(port: tap, vlans: ours)) }
        }
        guard !state.usersUnknown else {
            if !state.createdLinks.isEmpty {
                plan.notes.append(
                    "state was rebuilt from the kernel: the users of \(state.createdLinks.map(\.name.rawValue).joined(separator: ", ")) are unknown, so nothing is deleted (run `vlanwire reconcile`)"
                )
            }
            return plan
        }
        let inUse = state.linksInUse(besides: guest)
        var candidates: [CreatedLink] = []
        for link in state.createdLinks where !inUse.contains(link.name) {
            guard let current = observed.link(named: link.name) else {
                if observed.complete { plan.staleLinks.append(link.name) }
                continue
            }
            guard current.index == link.index, current.isMarked(by: mark) else {
                plan.staleLinks.append(link.name)
                plan.notes.append("\(link.name) is no longer the link vlanwire created (ifindex or mark differs): left alone")
                continue
            }
            candidates.append(link)
        }
        let deleting = Set(candidates.map(\.name.rawValue))
        // Bridges first (their ports are released with them), then legs.
        for link in candidates where link.kind == "bridge" {
            let foreign = observed.ports(of: link.name.rawValue).filter { !deleting.contains($0.name) }
            if foreign.isEmpty {
                plan.actions.append(.deleteLink(link.name))
                plan.deletions.append(link.name)
            } else {
                plan.notes.append("kept \(link.name): it still has ports vlanwire did not put there (\(foreign.map(\.name).joined(separator: ", ")))")
            }
        }
        for link in candidates where link.kind != "bridge" {
            if let master = observed.link(named: link.name)?.master, !plan.deletions.contains(where: { $0.rawValue == master }) {
                plan.notes.append("kept \(link.name): it is a port of \(master), which stays")
                continue
            }
            plan.actions.append(.deleteLink(link.name))
            plan.deletions.append(link.name)
        }
        return plan
    }
}

/// Accumulates actions against a running picture of the kernel, so that two NICs sharing an
/// access bridge create it once, and nothing is done that the kernel already has.
struct PlanBuilder {
    let guest: String
    let observed: ObservedState
    let topology: Topology
    var actions: [Action] = []
    var notes: [String] = []
    var problems: [Problem] = []
    /// Links this plan creates.
    var planned: Set<LinkName> = []
    /// Planned masters, by link.
    var masters: [LinkName: LinkName] = [:]
    var upped: Set<LinkName> = []
    var uplinksDone: Set<LinkName> = []
    /// Bridges this plan turns vlan_filtering on for.
    var filteringEnabled: Set<LinkName> = []
    /// Bridges this plan closes (fail-closed: joining ports get no VLAN).
    var closed: Set<LinkName> = []
    /// Access bridge -> the leg that feeds it (an existing one may be named differently).
    var legInUse: [LinkName: LinkName] = [:]
    /// MTUs this plan sets.
    var mtus: [LinkName: Int] = [:]

    init(guest: String, observed: ObservedState, topology: Topology) {
        self.guest = guest
        self.observed = observed
        self.topology = topology
    }

    mutating func problem(_ nic: ResolvedNIC, _ cause: String, fix: String? = nil) {
        problems.append(Problem(guest: guest, nic: nic.interface.label, cause: cause, fix: fix))
    }

    func exists(_ name: LinkName) -> Bool { planned.contains(name) || observed.link(named: name) != nil }

    mutating func ensureUp(_ name: LinkName) {
        guard !upped.contains(name) else { return }
        upped.insert(name)
        if planned.contains(name) || observed.link(named: name)?.adminUp == false { actions.append(.setUp(name)) }
    }

    mutating func ensureMaster(_ link: LinkName, _ bridge: LinkName) {
        let current = masters[link]?.rawValue ?? observed.link(named: link)?.master
        guard current != bridge.rawValue else { return }
        masters[link] = bridge
        actions.append(.enslave(link: link, bridge: bridge))
    }

    // MARK: MTU

    /// A guest with `<mtu size=N>`: the links between its tap and the wire must carry N-byte
    /// frames. The uplink (and a leg's parent) are the admin's: too small, the NIC is refused with
    /// the fix. The VLAN leg and access bridge are vlanwire's: raised to N (a new leg inherits its
    /// parent's MTU, a new bridge starts at 1500). A bridge's own MTU does not limit what it
    /// forwards, but the host's traffic on it and `doctor` go by it.
    mutating func pathMTU(for nic: ResolvedNIC, wiring: ResolvedNIC.Wiring) {
        guard let mtu = nic.interface.mtu else { return }
        var carriers: [LinkName] = []
        if let interface = wiring.uplink.interface { carriers.append(interface) }
        if let path = wiring.accessPath, !carriers.contains(path.legParent) { carriers.append(path.legParent) }
        let narrow = carriers.compactMap { name in observed.link(named: name).flatMap { $0.mtu < mtu ? $0 : nil } }
        if !narrow.isEmpty {
            let sizes = narrow.map { "\($0.name) has MTU \($0.mtu)" }.joined(separator: ", ")
            return problem(
                nic,
                "the guest's <mtu size='\(mtu)'> does not fit the path to the wire: \(sizes)\(wiring.accessPath.map { ", and VLAN leg \($0.leg) cannot be larger than its parent" } ?? ""), so \(mtu)-byte frames are dropped",
                fix:
                    "raise the MTU in the host's network configuration (\(narrow.map { "ip link set \($0.name) mtu \(mtu)" }.joined(separator: "; "))), or lower the guest's <mtu size>"
            )
        }
        guard let path = wiring.accessPath else { return }
        for name in [legInUse[path.bridge] ?? path.leg, path.bridge] {
            let current: Int?
            if let planned = mtus[name] {
                current = planned
            } else if planned.contains(name) {
                current = name == path.bridge ? 1500 : nil  // a new leg has its parent's MTU, checked above
            } else {
                current = observed.link(named: name)?.mtu
            }
            guard let current, current < mtu else { continue }
            guard planned.contains(name) || observed.link(named: name)?.alias.map(LinkMark.isMark) == true else {
                problem(
                    nic, "\(name) on the guest's path has MTU \(current), smaller than its <mtu size='\(mtu)'>, and is not vlanwire's to change",
                    fix: "ip link set \(name) mtu \(mtu), or lower the guest's <mtu size>")
                continue
            }
            actions.append(.setMTU(link: name, mtu: mtu))
            mtus[name] = mtu
        }
    }

    // MARK: infrastructure

    mutating func infrastructure(for nic: ResolvedNIC, wiring: ResolvedNIC.Wiring) {
        switch wiring.uplink.mode {
        case .vlanAware: vlanAwareUplink(for: nic, uplink: wiring.uplink)
        case .classic: if let path = wiring.accessPath { accessPath(for: nic, path: path, uplink: wiring.uplink) }
        }
    }

    mutating func vlanAwareUplink(for nic: ResolvedNIC, uplink: Uplink) {
        guard let bridge = uplink.bridge, uplinksDone.insert(bridge).inserted else { return }
        guard let observedBridge = observed.link(named: bridge) else {
            if observed.complete {
                problem(
                    nic, "trunk bridge \(bridge) does not exist",
                    fix: "create it in the host's network configuration with \(uplink.interface?.rawValue ?? "the uplink") as a port")
            }
            return
        }
        guard observedBridge.isBridge else { return problem(nic, "\(bridge) exists but is not a bridge (kind \(observedBridge.kind ?? "device"))") }
        if observedBridge.bridge?.vlanFiltering != true {
            if observed.capabilities?.bridgeVLANFiltering == false {
                return problem(
                    nic, "uplink \(uplink.label) is vlan-aware, but this kernel lacks bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)",
                    fix: "use a kernel with bridge VLAN filtering, or set mode = \"classic\"")
            }
            actions.append(.setVLANFiltering(bridge: bridge, enabled: true))
            filteringEnabled.insert(bridge)
            notes.append("turns on vlan_filtering on \(bridge): ports keep VLAN 1 untagged unless vlanwire sets their VLANs")
        }
        if uplink.netfilterOff, let info = observedBridge.bridge,
            info.nfCallIPTables == true || info.nfCallIP6Tables == true || info.nfCallARPTables == true
        {
            actions.append(.setBridgeNetfilter(bridge: bridge, enabled: false))
        }
        closeNewPorts(of: observedBridge, bridge: bridge, uplink: uplink)
        guard !uplink.inferred, let interface = uplink.interface else { return }
        guard let uplinkLink = observed.link(named: interface) else {
            if observed.complete { problem(nic, "uplink \(interface) does not exist", fix: "check the interface name in the config") }
            return
        }
        guard uplinkLink.master == bridge.rawValue else {
            return problem(
                nic, "uplink \(interface) is not a port of \(bridge)",
                fix: "make it one in the host's network configuration (ip link set \(interface) master \(bridge))")
        }
        let current = filteringEnabled.contains(bridge) ? PortVLANs.kernelDefault : (uplinkLink.port?.vlans ?? .kernelDefault)
        var add = uplink.vlans.subtracting(current.members)
        var untagged = VLANSet.empty
        var pvid: VLANID?
        if let native = uplink.nativeVLAN, current.pvid != native || !current.untagged.contains(native) {
            add = add.union(VLANSet(native))
            untagged = VLANSet(native)
            pvid = native
        }
        if !add.isEmpty { actions.append(.addPortVLANs(port: interface, vlans: PortVLANs(members: add, untagged: untagged, pvid: pvid))) }
    }

    /// Fail closed (`Uplink.failClosed`): the bridge's default VLAN goes, so a tap that joins it
    /// (a hot-plug, a guest started without the hook) carries nothing until vlanwire wires it. No
    /// existing port, nor the bridge itself, loses a VLAN (see `Action.setDefaultPVID`).
    mutating func closeNewPorts(of observedBridge: ObservedLink, bridge: LinkName, uplink: Uplink) {
        guard uplink.failClosed, !uplink.inferred, let pvid = observedBridge.bridge?.defaultPVID, pvid != 0 else { return }
        let ports = observed.ports(of: bridge.rawValue)
        // The way round: the highest VLAN no port of the bridge (nor the bridge itself) is a member of.
        let used = ports.reduce(observedBridge.bridge?.selfVLANs?.members ?? .empty) { $0.union($1.port?.vlans?.members ?? .empty) }
        guard let spare = (2...4094).reversed().lazy.compactMap({ try? VLANID($0) }).first(where: { !used.contains($0) }) else {
            return notes.append("\(bridge) is not closed (fail-closed): its ports use every VLAN, none is left to pass the default through")
        }
        let keeping = ports.compactMap { try? LinkName($0.name) } + [bridge]
        actions.append(.setDefaultPVID(bridge: bridge, to: nil, keeping: keeping, spare: spare))
        closed.insert(bridge)
        notes.append("closes \(bridge) (fail-closed): a port that joins it carries no VLAN until vlanwire wires it; no port's VLANs change")
    }

    /// What a port gets from the kernel when it joins `bridge` (or when filtering is turned on).
    func joiningPortVLANs(_ bridge: LinkName) -> PortVLANs {
        if closed.contains(bridge) || observed.link(named: bridge)?.bridge?.defaultPVID == 0 { return PortVLANs() }
        return .kernelDefault
    }

    mutating func accessPath(for nic: ResolvedNIC, path: ResolvedNIC.AccessPath, uplink: Uplink) {
        if let existing = observed.link(named: path.bridge), !existing.isBridge {
            return problem(
                nic,
                "\(path.bridge) exists but is not a bridge (kind \(existing.kind ?? "device")), so it cannot be the access bridge of VLAN \(path.vid)",
                fix: "rename or remove \(path.bridge), or change access-bridge in the config")
        }
        if !exists(path.bridge) {
            actions.append(
                .createBridge(
                    BridgeSpec(
                        name: path.bridge, stp: uplink.stp, forwardDelay: uplink.forwardDelay,
                        netfilterOff: uplink.netfilterOff)))
            planned.insert(path.bridge)
        }
        // A leg already feeding the access bridge (vlanwire's, or one the admin made) is used as is.
        let existingLeg = observed.ports(of: path.bridge.rawValue).first { $0.vlan?.id == path.vid }
        if let existingLeg, let legName = try? LinkName(existingLeg.name) {
            legInUse[path.bridge] = legName
            if let parent = existingLeg.vlan?.parent, parent != path.legParent.rawValue,
                let uplinkName = uplink.interface, parent == uplinkName.rawValue, uplink.bridge != nil
            {
                notes.append(
                    "\(legName) hangs off the uplink \(parent), not the trunk bridge: it takes VLAN \(path.vid) away from trunk guests on \(uplink.bridge!) (run `vlanwire doctor`)"
                )
            }
            ensureUp(legName)
            ensureUp(path.bridge)
            return
        }
        legInUse[path.bridge] = path.leg
        if let leg = observed.link(named: path.leg) {
            guard leg.vlan?.id == path.vid, leg.vlan?.parent == path.legParent.rawValue else {
                return problem(
                    nic, "\(path.leg) exists but is not VLAN \(path.vid) on \(path.legParent)",
                    fix: "rename or remove \(path.leg)")
            }
            if let master = leg.master, master != path.bridge.rawValue {
                return problem(
                    nic, "VLAN leg \(path.leg) is already a port of \(master)",
                    fix: "release it (ip link set \(path.leg) nomaster) or remove it")
            }
        } else if !planned.contains(path.leg) {
            if observed.capabilities?.vlan8021Q == false {
                return problem(
                    nic,
                    "access VLAN \(path.vid) needs VLAN leg \(path.leg), but this kernel has no 802.1Q VLAN support (CONFIG_VLAN_8021Q, module 8021q)",
                    fix: "load the 8021q module or use a kernel with 802.1Q support")
            }
            if observed.complete, observed.link(named: path.legParent) == nil {
                return problem(
                    nic, "\(path.legParent), the parent of VLAN leg \(path.leg), does not exist",
                    fix: "check the uplink's interface and bridge in the config")
            }
            actions.append(.createVLANLeg(name: path.leg, parent: path.legParent, vid: path.vid))
            planned.insert(path.leg)
        }
        ensureMaster(path.leg, path.bridge)
        ensureUp(path.bridge)
        ensureUp(path.leg)
    }

    // MARK: ports

    mutating func port(for nic: ResolvedNIC, wiring: ResolvedNIC.Wiring, record: inout NICRecord) {
        guard let policy = wiring.policy else { return }
        guard let tap = findTap(nic) else { return }
        record.tap = tap.name
        record.tapIndex = tap.link?.index
        var moved = false
        // An observed tap's own master decides (a tap in no bridge must be enslaved, whatever the XML
        // says); the XML's source bridge only stands in for a tap not seen yet.
        let currentMaster = tap.link.map { $0.master } ?? nic.interface.sourceBridge
        if currentMaster != wiring.bridge.rawValue {
            let from = currentMaster ?? "no bridge"
            notes.append("\(tap.name) moves from \(from) to \(wiring.bridge) (\(policy))")
            ensureMaster(tap.name, wiring.bridge)
            moved = true
        }
        guard wiring.uplink.mode == .vlanAware else { return }
        let desired = PortVLANs(policy: policy)
        record.portVLANs = desired
        let current: PortVLANs
        if moved {
            current = joiningPortVLANs(wiring.bridge)
        } else if filteringEnabled.contains(wiring.bridge) {
            // A port before filtering was turned on: on the default (kept there if the bridge closes).
            current = .kernelDefault
        } else {
            current = tap.link?.port?.vlans ?? joiningPortVLANs(wiring.bridge)
        }
        let remove = current.members.subtracting(desired.members)
        if !remove.isEmpty { actions.append(.removePortVLANs(port: tap.name, vlans: remove)) }
        // Members to (re-)add: missing ones, and kept ones whose untagged or pvid flag changes.
        var add = desired.members.subtracting(current.members)
        let kept = desired.members.intersection(current.members)
        let flagChanges = kept.intersection(desired.untagged).subtracting(current.untagged)
            .union(kept.intersection(current.untagged).subtracting(desired.untagged))
        add = add.union(flagChanges)
        if current.pvid != desired.pvid {
            if let pvid = desired.pvid { add = add.union(VLANSet(pvid)) }
            if let old = current.pvid, desired.members.contains(old) { add = add.union(VLANSet(old)) }
        }
        if !add.isEmpty {
            actions.append(
                .addPortVLANs(
                    port: tap.name,
                    vlans: PortVLANs(
                        members: add, untagged: desired.untagged.intersection(add), pvid: desired.pvid.flatMap { add.contains($0) ? $0 : nil })))
        }
    }

    struct Tap {
        var name: LinkName
        var link: ObservedLink?
    }

    /// The NIC's tap (`NICAudit.locateTap`); a `<target dev>` that is not a link name, or that names
    /// a link with another MAC, is a problem. Target dev names are not stable.
    mutating func findTap(_ nic: ResolvedNIC) -> Tap? {
        var targetName: LinkName?
        if let target = nic.interface.targetDevice {
            do { targetName = try LinkName(target) } catch {
                problem(nic, "target dev: \(error.description)")
                return nil
            }
        }
        let (found, drift) = NICAudit.locateTap(nic.interface, observed: observed)
        if case .tapMAC(let target, let has, _)? = drift, observed.complete {
            problem(
                nic, "tap \(target) has MAC \(has?.description ?? "none"), not this NIC's",
                fix: "let libvirt recreate the tap (virsh destroy/start)")
            return nil
        }
        if let found, let name = try? LinkName(found.link.name) { return Tap(name: name, link: found.link) }
        if observed.complete {
            problem(
                nic, "no tap found for this NIC (target dev \(targetName?.rawValue ?? "unknown"))",
                fix: "the tap exists only while the guest runs: use the start/started operations")
            return nil
        }
        if let targetName { return Tap(name: targetName, link: nil) }
        notes.append("NIC \(nic.interface.label): its port is wired at start, on the tap libvirt creates then")
        return nil
    }
}
