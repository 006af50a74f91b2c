// A NIC's drift in words: what `vlanwire status` lists per NIC and `vlanwire watch` logs with a
// repair. In the core (not in VLANWireReports) because the host's repair names the drift it fixed.

/// One way the kernel differs from what a NIC's definition and policy ask for.
public struct Mismatch: Codable, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Codable, Equatable, Sendable {
        /// No link with the NIC's tap MAC (nor its `<target dev>`).
        case tapMissing = "tap-missing"
        /// `<target dev>` names a link with another MAC.
        case tapMAC = "tap-mac"
        /// The tap is in another bridge (or none).
        case wrongBridge = "wrong-bridge"
        /// The tap's port VLANs are not the policy's.
        case vlansDiffer = "vlans-differ"
        /// The policy needs VLAN filtering and the bridge has it off.
        case notVLANAware = "not-vlan-aware"
        /// The uplink port does not carry VLANs the policy uses.
        case uplinkVLANs = "uplink-vlans"
        /// Classic access: the access bridge or its VLAN leg is missing or down.
        case accessPath = "access-path"
        /// vlanwire refuses the NIC's policy (the hook would refuse to start the guest).
        case policyRefused = "policy-refused"
    }

    public var kind: Kind
    public var message: String
    /// Whether `vlanwire reconcile` puts it right (vlanwire does not move NICs without a policy,
    /// and cannot fix a refused policy or a missing tap).
    public var reconcileFixes: Bool

    public init(_ kind: Kind, _ message: String, reconcileFixes: Bool) {
        self.kind = kind
        self.message = message
        self.reconcileFixes = reconcileFixes
    }

    public var description: String { message }
}

extension Mismatch {
    /// A drift as `vlanwire status` (and watch's repair lines) word it.
    package init(_ drift: NICAudit.Drift) {
        switch drift {
        case .tapMissing(let mac):
            self.init(.tapMissing, "no tap with this NIC's MAC (\(mac?.description ?? "no MAC"))", reconcileFixes: drift.reconcileFixes)
        case .tapMAC(let target, let has, let wants):
            self.init(
                .tapMAC, "target dev \(target.escapedForDisplay) has MAC \(has?.description ?? "none"), not this NIC's tap MAC \(wants)",
                reconcileFixes: drift.reconcileFixes)
        case .wrongBridge(let tap, let bridge, let wants, let policy):
            let place = bridge.map { "in \($0)" } ?? "in no bridge"
            let why =
                policy.map { "its policy \($0) needs \(wants)" }
                ?? "libvirt's definition says \(wants) (vlanwire does not move NICs without a policy)"
            self.init(.wrongBridge, "tap \(tap) is \(place); \(why)", reconcileFixes: drift.reconcileFixes)
        case .vlansDiffer(_, let has, let wants):
            let what = has.members.isEmpty ? "the port has no VLANs" : "port VLANs are \(has)"
            let native = Self.nativeModeDifference(has: has, wants: wants).map { "\($0): " } ?? ""
            self.init(.vlansDiffer, "\(native)\(what); the policy needs \(wants)", reconcileFixes: drift.reconcileFixes)
        case .notVLANAware(let bridge):
            self.init(.notVLANAware, "\(bridge) has vlan_filtering off: the policy's VLANs are not enforced", reconcileFixes: drift.reconcileFixes)
        case .uplinkVLANs(let uplink, let missing, _):
            self.init(
                .uplinkVLANs, "uplink \(uplink) does not carry VLAN\(missing.count == 1 ? "" : "s") \(missing)",
                reconcileFixes: drift.reconcileFixes)
        case .accessBridgeMissing(let bridge, let vid):
            self.init(.accessPath, "access bridge \(bridge) of VLAN \(vid) does not exist", reconcileFixes: drift.reconcileFixes)
        case .accessBridgeDown(let bridge):
            self.init(.accessPath, "access bridge \(bridge) is down", reconcileFixes: drift.reconcileFixes)
        case .legMissing(let bridge, let vid, let leg):
            self.init(.accessPath, "access bridge \(bridge) has no VLAN \(vid) leg (\(leg))", reconcileFixes: drift.reconcileFixes)
        case .legDown(let leg):
            self.init(.accessPath, "VLAN leg \(leg) is down", reconcileFixes: drift.reconcileFixes)
        }
    }
}

extension Mismatch {
    /// When a port differs from its policy in how the native VLAN (its PVID) leaves it: `native VLAN
    /// 1 leaves untagged, the policy says tagged` (or the reverse); nil otherwise.
    package static func nativeModeDifference(has: PortVLANs, wants: PortVLANs) -> String? {
        guard let pvid = wants.pvid, has.pvid == pvid, has.members.contains(pvid) else { return nil }
        let hasUntagged = has.untagged.contains(pvid)
        guard hasUntagged != wants.untagged.contains(pvid) else { return nil }
        return hasUntagged
            ? "native VLAN \(pvid) leaves untagged, the policy says tagged (native-tagged)"
            : "native VLAN \(pvid) leaves tagged, the policy says untagged"
    }
}
