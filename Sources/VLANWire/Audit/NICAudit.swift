/// One guest NIC against the kernel: where its tap is, and each way the kernel differs from what
/// the NIC's definition and policy ask for. Pure. `vlanwire status` (mismatches), `vlanwire doctor`
/// (findings with their fixes), `vlanwire reconcile` and `vlanwire watch` (the drift a repair
/// names) all read a NIC through this one audit, so they cannot disagree.
public struct NICAudit: Sendable {
    /// Where the NIC's tap is in the kernel.
    public struct Tap: Sendable {
        public var link: ObservedLink
        public var foundBy: TapMatch
    }

    /// One way the kernel differs from the NIC's definition and policy.
    public enum Drift: Equatable, Sendable {
        /// No link with the NIC's tap MAC (nor its `<target dev>`): the guest is not running here.
        case tapMissing(tapMAC: MACAddress?)
        /// `<target dev>` names a link with another MAC (another NIC's tap, or a leftover).
        case tapMAC(target: String, has: MACAddress?, wants: MACAddress)
        /// The tap is in another bridge, or in none.
        case wrongBridge(tap: String, in: String?, wants: LinkName, policy: PortPolicy?)
        /// The tap's port VLANs are not the policy's.
        case vlansDiffer(tap: String, has: PortVLANs, wants: PortVLANs)
        /// The policy needs VLAN filtering and the bridge has it off.
        case notVLANAware(bridge: LinkName)
        /// The uplink port does not carry VLANs the policy uses.
        case uplinkVLANs(uplink: LinkName, missing: VLANSet, inferred: Bool)
        /// Classic access: the access bridge or its VLAN leg is missing or down.
        case accessBridgeMissing(bridge: LinkName, vid: VLANID)
        case accessBridgeDown(bridge: LinkName)
        case legMissing(bridge: LinkName, vid: VLANID, leg: LinkName)
        case legDown(leg: String)

        /// Whether `vlanwire reconcile` (and watch) put it right: not for a NIC without a policy
        /// (vlanwire does not move it), a missing tap, a tap with another NIC's MAC, nor the VLANs
        /// of an uplink vlanwire only inferred (it does not manage that port).
        public var reconcileFixes: Bool {
            switch self {
            case .tapMissing, .tapMAC: false
            case .wrongBridge(_, _, _, let policy): policy != nil
            case .uplinkVLANs(_, _, let inferred): !inferred
            case .vlansDiffer, .notVLANAware, .accessBridgeMissing, .accessBridgeDown, .legMissing, .legDown: true
            }
        }
    }

    public var tap: Tap?
    public var drifts: [Drift]

    /// The NIC's tap: `<target dev>` when it carries the NIC's tap MAC (or the NIC has no MAC),
    /// else the link with that MAC (libvirt gives a tap the guest's MAC with first octet 0xfe).
    /// A `<target dev>` with another MAC is a drift of its own.
    public static func locateTap(_ interface: DomainInterface, observed: ObservedState) -> (tap: Tap?, drift: Drift?) {
        let mac = interface.mac
        func matches(_ link: ObservedLink) -> Bool {
            guard let mac, let linkMAC = link.mac else { return false }
            return linkMAC == mac.libvirtTapAddress || linkMAC == mac
        }
        var drift: Drift?
        if let target = interface.targetDevice, let link = observed.link(named: target) {
            if mac == nil || matches(link) { return (Tap(link: link, foundBy: .targetDevice), nil) }
            drift = .tapMAC(target: target, has: link.mac, wants: mac!.libvirtTapAddress)
        }
        if mac != nil, let link = observed.links.first(where: { !$0.isBridge && $0.kind != "vlan" && matches($0) }) {
            return (Tap(link: link, foundBy: .mac), drift)
        }
        return (nil, drift)
    }

    /// Audits one resolved NIC. A NIC vlanwire leaves alone (no wiring) has only its tap located.
    public static func audit(_ nic: ResolvedNIC, observed: ObservedState) -> NICAudit {
        let (tap, tapDrift) = locateTap(nic.interface, observed: observed)
        var drifts = tapDrift.map { [$0] } ?? []
        guard let wiring = nic.wiring else { return NICAudit(tap: tap, drifts: drifts) }
        if let path = wiring.accessPath { drifts += accessPathDrifts(path, observed: observed) }
        if let link = tap?.link {
            if link.master != wiring.bridge.rawValue {
                drifts.append(.wrongBridge(tap: link.name, in: link.master, wants: wiring.bridge, policy: wiring.policy))
            }
        } else if tapDrift == nil {
            drifts.append(.tapMissing(tapMAC: nic.interface.mac?.libvirtTapAddress))
        }
        guard wiring.uplink.mode == .vlanAware, let policy = wiring.policy else { return NICAudit(tap: tap, drifts: drifts) }
        let wanted = PortVLANs(policy: policy)
        if observed.link(named: wiring.bridge)?.bridge?.vlanFiltering == false {
            drifts.append(.notVLANAware(bridge: wiring.bridge))
        } else if let link = tap?.link, link.master == wiring.bridge.rawValue {
            let has = link.port?.vlans ?? PortVLANs()
            if has != wanted { drifts.append(.vlansDiffer(tap: link.name, has: has, wants: wanted)) }
        }
        if let uplink = wiring.uplink.interface, let port = observed.link(named: uplink), port.master == wiring.bridge.rawValue,
            let carried = port.port?.vlans
        {
            let missing = policy.memberVLANs.subtracting(carried.members)
            if !missing.isEmpty { drifts.append(.uplinkVLANs(uplink: uplink, missing: missing, inferred: wiring.uplink.inferred)) }
        }
        return NICAudit(tap: tap, drifts: drifts)
    }

    static func accessPathDrifts(_ path: ResolvedNIC.AccessPath, observed: ObservedState) -> [Drift] {
        guard let bridge = observed.link(named: path.bridge) else { return [.accessBridgeMissing(bridge: path.bridge, vid: path.vid)] }
        var drifts: [Drift] = []
        if !bridge.adminUp { drifts.append(.accessBridgeDown(bridge: path.bridge)) }
        if let leg = observed.ports(of: path.bridge.rawValue).first(where: { $0.vlan?.id == path.vid }) {
            if !leg.adminUp { drifts.append(.legDown(leg: leg.name)) }
        } else {
            drifts.append(.legMissing(bridge: path.bridge, vid: path.vid, leg: path.leg))
        }
        return drifts
    }
}

/// How a NIC's tap was found.
public enum TapMatch: String, Codable, Equatable, Sendable {
    /// The live XML's `<target dev>`, whose MAC is the NIC's tap MAC.
    case targetDevice = "target-dev"
    /// The link carrying the NIC's tap MAC (`MACAddress.libvirtTapAddress`) or the NIC's own MAC.
    case mac
}

extension NICAudit {
    /// One NIC of a guest, its policy resolved as the hook resolves it, and audited.
    public struct GuestNIC: Sendable {
        public var interface: DomainInterface
        /// The NIC as the planner resolves it; nil when vlanwire refuses its policy.
        public var resolved: ResolvedNIC?
        /// Why its policy is refused (each problem's cause and fix), when it is.
        public var refusal: String?
        /// For a refused policy, only its tap is located.
        public var audit: NICAudit
        /// The audit's drifts in words, and for a refused policy a `policy-refused` mismatch.
        public var mismatches: [Mismatch]
    }

    /// Audits each NIC of `domain` (live XML) against the kernel: `vlanwire status` per NIC, watch's
    /// repair lines. The policy is resolved as the hook resolves it (`Planner.resolve`), one NIC at a
    /// time so that one refused NIC does not hide the others.
    public static func audit(_ domain: DomainDescription, topology: Topology, observed: ObservedState) -> [GuestNIC] {
        let planner = Planner(topology: topology, observed: observed)
        return domain.interfaces.map { interface -> GuestNIC in
            let single = DomainDescription(
                name: domain.name, uuid: domain.uuid, interfaces: [interface],
                metadata: domain.metadata)
            do throws(Refusal) {
                let nic = try planner.resolve(single)[0]
                let audit = NICAudit.audit(nic, observed: observed)
                return GuestNIC(
                    interface: interface, resolved: nic, refusal: nil, audit: audit,
                    mismatches: audit.drifts.map(Mismatch.init))
            } catch {
                let cause = error.problems.map { $0.cause + ($0.fix.map { " — fix: \($0)" } ?? "") }.joined(separator: "; ")
                let (tap, tapDrift) = locateTap(interface, observed: observed)
                let audit = NICAudit(tap: tap, drifts: tapDrift.map { [$0] } ?? [])
                return GuestNIC(
                    interface: interface, resolved: nil, refusal: cause, audit: audit,
                    mismatches: audit.drifts.map(Mismatch.init)
                        + [Mismatch(.policyRefused, "policy refused: \(cause)", reconcileFixes: false)])
            }
        }
    }
}
