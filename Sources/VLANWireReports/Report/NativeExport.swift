package import VLANWire

/// `vlanwire export-native`: a guest's vlanwire policies as libvirt's own `<vlan>` elements, which
/// libvirt >= 11.0 applies to a tap on a Linux bridge, for the NICs where libvirt expresses the policy
/// exactly; every other NIC stays with vlanwire, with the reason. Pure: (domain, topology, kernel) -> export.
///
/// What libvirt 11 does with `<vlan>` on a Linux bridge (virNetDevBridgeSetupVlans): it deletes VID 1
/// from the tap and adds the tags, the native one as PVID untagged; it neither checks nor turns on
/// vlan_filtering, never touches the uplink, repairs no drift, and ignores `nativeMode='tagged'`
/// (libvirt gitlab #767). So only NICs on a vlan-aware bridge move, and never a native-tagged trunk.
package struct NativeExport: Codable, Equatable, Sendable {
    package struct NIC: Codable, Equatable, Sendable {
        package var mac: String
        package var bridge: String?
        package var policy: String?
        /// libvirt's `<vlan>` for the NIC; nil when it stays with vlanwire.
        package var vlan: String?
        /// Why the NIC stays with vlanwire.
        package var stays: String?
    }

    package var guest: String
    package var nics: [NIC]
    /// What libvirt will not do that vlanwire did: the uplinks' VLANs.
    package var notes: [String]

    package static func export(_ domain: DomainDescription, topology: Topology, observed: ObservedState) -> NativeExport {
        var nics: [NIC] = []
        var uplinkVLANs: [(uplink: String, bridge: String, vlans: VLANSet)] = []
        for interface in domain.interfaces {
            let mac = interface.mac?.description ?? "(no MAC)"
            func stays(_ reason: String, bridge: String? = nil, policy: PortPolicy? = nil) {
                nics.append(NIC(mac: mac, bridge: bridge, policy: policy?.description, vlan: nil, stays: reason))
            }
            let nic: ResolvedNIC
            switch ResolvedNIC.resolve(interface, guest: domain, topology: topology, observed: observed) {
            case .success(let resolved): nic = resolved
            case .failure(let problem):
                stays("vlanwire refuses its policy: \(problem.cause)")
                continue
            }
            guard let wiring = nic.wiring else {
                stays("vlanwire does not manage it" + (nic.unmanagedReason.map { ": \($0)" } ?? ""))
                continue
            }
            let bridge = wiring.bridge.rawValue
            guard let policy = wiring.policy else {
                stays("it has no vlanwire policy (the kernel default)", bridge: bridge)
                continue
            }
            if let path = wiring.accessPath {
                stays(
                    "classic layout: access bridge \(path.bridge) fed by VLAN leg \(path.leg); libvirt's <vlan> needs a vlan-aware bridge",
                    bridge: bridge, policy: policy)
                continue
            }
            guard wiring.uplink.mode == .vlanAware else {
                stays(
                    "\(bridge) is a classic bridge (no vlan_filtering): libvirt would write port VLANs that filter nothing", bridge: bridge,
                    policy: policy)
                continue
            }
            guard interface.type == "bridge" else {
                stays(
                    "a <interface type='\(interface.type)'> NIC: its <vlan> belongs to the network's portgroup, which this does not write",
                    bridge: bridge, policy: policy)
                continue
            }
            if case .trunk(_, _, .tagged) = policy {
                stays("native-tagged: libvirt ignores nativeMode='tagged' on a Linux bridge (libvirt gitlab #767)", bridge: bridge, policy: policy)
                continue
            }
            nics.append(NIC(mac: mac, bridge: bridge, policy: policy.description, vlan: Self.vlanElement(policy), stays: nil))
            if let uplink = wiring.uplink.interface {
                let vlans = PortVLANs(policy: policy).members
                if let index = uplinkVLANs.firstIndex(where: { $0.uplink == uplink.rawValue }) {
                    uplinkVLANs[index].vlans = uplinkVLANs[index].vlans.union(vlans)
                } else {
                    uplinkVLANs.append((uplink.rawValue, bridge, vlans))
                }
            }
        }
        var notes = uplinkVLANs.map { uplink in
            "libvirt sets only the guests' ports: \(uplink.uplink) (port of \(uplink.bridge)) must keep carrying VLANs \(uplink.vlans) "
                + "(vlanwire added them; check with bridge vlan show dev \(uplink.uplink)), and \(uplink.bridge) must keep vlan_filtering on"
        }
        if nics.contains(where: { $0.vlan != nil }) {
            notes.append(
                "then, for each NIC above: virsh edit \(domain.name) and put its <vlan> inside its <interface>; "
                    + "vlanwire set-port \(domain.name) --mac MAC --clear drops vlanwire's policy for it (libvirt >= 11.0 only)")
        }
        return NativeExport(guest: domain.name, nics: nics, notes: notes)
    }

    /// libvirt's element: `<tag>` per VLAN (libvirt has no ranges), the native one first with nativeMode.
    static func vlanElement(_ policy: PortPolicy) -> String {
        switch policy {
        case .access(let id):
            return "<vlan>\n  <tag id='\(id)'/>\n</vlan>"
        case .trunk(let tagged, let native, _):
            var lines = ["<vlan trunk='yes'>"]
            if let native { lines.append("  <tag id='\(native)' nativeMode='untagged'/>") }
            lines += tagged.map { "  <tag id='\($0)'/>" }
            return (lines + ["</vlan>"]).joined(separator: "\n")
        }
    }

    package var text: String {
        let moving = nics.filter { $0.vlan != nil }.count
        var out = "guest \(guest): \(moving) of \(nics.count) NIC(s) can move to libvirt's own <vlan> (libvirt >= 11.0)\n"
        for nic in nics {
            let on = nic.bridge.map { " on \($0)" } ?? ""
            let policy = nic.policy.map { ", policy \($0)" } ?? ""
            if let vlan = nic.vlan {
                out += "NIC \(nic.mac)\(on)\(policy):\n" + vlan.split(separator: "\n").map { "  \($0)\n" }.joined()
            } else {
                out += "NIC \(nic.mac)\(on)\(policy): stays with vlanwire: \(nic.stays ?? "")\n"
            }
        }
        return out + notes.map { "note: \($0)\n" }.joined()
    }
}
