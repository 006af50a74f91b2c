import Foundation
import Testing
import VLANWire
import VLANWireNetlink
import VLANWireTestSupport

/// A native-tagged trunk port (issue 17) on a real vlan-filtering bridge: the native VLAN is the
/// port's PVID without the untagged flag. Needs bridge VLAN filtering: skipped on kernels without
/// it, run in the lab VM (`LAB_SWIFT_TEST_FILTER=LabVLAN scripts/lab 90-swift-tests`); frames
/// through such a port: lab scenario 13-vlan-aware.
@Suite(
    "LabVLAN: native-tagged trunk ports on a real kernel",
    .enabled(if: Host.isRoot && Host.hasVLANKernel, Host.vlanComment))
struct LabVLANNativeTaggedTests {
    static let router = "52:54:00:00:00:02"
    static let config = """
        [[uplink]]
        interface = "up0"
        bridge = "br0"
        mode = "vlan-aware"
        vlans = "1-100"
        native-vlan = 1
        """

    static func guest(_ vlan: String) throws -> DomainDescription {
        let xml = """
            <domain type='kvm'><name>router1</name>
            <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='\(router)'>\(vlan)</vw:interface></vw:vlans></metadata>
            <devices><interface type='bridge'><mac address='\(router)'/><source bridge='br0'/><target dev='vnet1'/></interface></devices>
            </domain>
            """
        return try DomainDescription(xml: Array(xml.utf8))
    }

    /// Plans `operation` for `guest` against the namespace as it is and applies it, all or nothing.
    static func wire(_ guest: DomainDescription, _ operation: HookOperation, handle: NetlinkHandle, scene: Scene) throws -> Plan {
        let observed = try handle.snapshot()
        let topology = Topology.resolve(config: try HostConfig(toml: config), observed: observed)
        let plan = try Planner(topology: topology, observed: observed).plan(guest, operation: operation)
        _ = try Executor(handle: handle, logger: scene.logger).apply(plan.actions, .atomic(before: observed))
        return plan
    }

    static func mismatches(_ guest: DomainDescription, handle: NetlinkHandle) throws -> [Mismatch] {
        let observed = try handle.snapshot()
        let topology = Topology.resolve(config: try HostConfig(toml: config), observed: observed)
        return NICAudit.audit(guest, topology: topology, observed: observed).flatMap(\.mismatches)
    }

    @Test func nativeVLANIsThePVIDWithoutTheUntaggedFlag() throws {
        try withScene { scene in
            try scene.ip("link", "add", "br0", "type", "bridge", "vlan_filtering", "1")
            try scene.ip("link", "add", "up0", "type", "veth", "peer", "name", "up0p")
            try scene.ip("link", "set", "up0", "master", "br0")
            for link in ["br0", "up0", "up0p"] { try scene.ip("link", "set", link, "up") }
            try scene.tap("vnet1", mac: Self.router, in: "br0")
            let handle = try scene.handle()
            let guest = try Self.guest("<vw:vlan trunk='yes' tags='1,10' native='1' native-mode='tagged'/>")

            _ = try Self.wire(guest, .prepare, handle: handle, scene: scene)
            let start = try Self.wire(guest, .start, handle: handle, scene: scene)
            #expect(start.actions.map(\.description).contains("bridge vlan add dev vnet1 vid 1 pvid; bridge vlan add dev vnet1 vid 10"))
            let wanted = PortVLANs(members: try VLANSet(parsing: "1,10"), pvid: vid(1))
            #expect(try handle.snapshot().link(named: "vnet1")?.port?.vlans == wanted)
            // iproute2 reads the same from the kernel: VLAN 1 is PVID and not Egress Untagged.
            #expect(try LabVLANTests.iproute2PortVLANs(scene)["vnet1"] == wanted)
            #expect(try Self.mismatches(guest, handle: handle).isEmpty)

            // Someone makes the native VLAN untagged by hand: a mismatch naming the native mode,
            // and the plan flips only the flag back.
            try scene.bridge("vlan", "add", "dev", "vnet1", "vid", "1", "pvid", "untagged")
            let drift = try Self.mismatches(guest, handle: handle)
            #expect(drift.map(\.kind) == [.vlansDiffer])
            #expect(drift.first?.message.hasPrefix("native VLAN 1 leaves untagged, the policy says tagged (native-tagged)") == true)
            let repair = try Self.wire(guest, .start, handle: handle, scene: scene)
            #expect(repair.actions.map(\.description) == ["bridge vlan add dev vnet1 vid 1 pvid"])
            #expect(try LabVLANTests.iproute2PortVLANs(scene)["vnet1"] == wanted)

            // The same NIC as an untagged-native trunk: the flag comes back, nothing else changes.
            let untagged = try Self.guest("<vw:vlan trunk='yes' tags='1,10' native='1'/>")
            let back = try Self.wire(untagged, .start, handle: handle, scene: scene)
            #expect(back.actions.map(\.description) == ["bridge vlan add dev vnet1 vid 1 pvid untagged"])
            #expect(
                try LabVLANTests.iproute2PortVLANs(scene)["vnet1"]
                    == PortVLANs(members: try VLANSet(parsing: "1,10"), untagged: VLANSet(vid(1)), pvid: vid(1)))
        }
    }
}
