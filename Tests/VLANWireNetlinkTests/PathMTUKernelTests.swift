import Foundation
import Testing
import VLANWire
import VLANWireNetlink
import VLANWireTestSupport

/// A guest's `<mtu size>` on a real kernel (issue 17): bridges and veths only, so it runs
/// on kernels without 802.1Q too (VLAN legs inherit their parent's MTU: the planner and the kernel
/// model check that, the lab's kernel the rest).
@Suite("Path MTU on a real kernel, in throwaway namespaces", .enabled(if: Host.isRoot, Host.rootComment))
struct PathMTUKernelTests {
    static let web = "52:54:00:00:00:01"

    static func guest(mtu: Int) throws -> DomainDescription {
        let xml = """
            <domain type='kvm'><name>jumbo1</name>
            <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='\(web)'><vw:vlan tags='10'/></vw:interface></vw:vlans></metadata>
            <devices><interface type='bridge'><mac address='\(web)'/><source bridge='br0'/><mtu size='\(mtu)'/></interface></devices>
            </domain>
            """
        return try DomainDescription(xml: Array(xml.utf8))
    }

    static let config = """
        [[uplink]]
        interface = "eth0"
        bridge = "br0"
        vlans = "1,10"
        native-vlan = 1
        """

    /// The namespace's snapshot, as the planner would see it on a kernel with 802.1Q: the plan's VLAN
    /// leg is never applied here, only what bridges and veths can do.
    static func snapshot(_ handle: NetlinkHandle) throws -> ObservedState {
        var observed = try handle.snapshot()
        observed.capabilities = KernelCapabilities(vlan8021Q: true, bridgeVLANFiltering: true)
        return observed
    }

    /// br0 (a trunk bridge) with eth0 (a veth standing in for the NIC) as its port, both at `mtu`.
    static func buildScene(_ scene: Scene, mtu: Int) throws {
        try scene.ip("link", "add", "br0", "mtu", "\(mtu)", "type", "bridge")
        try scene.ip("link", "add", "eth0", "mtu", "\(mtu)", "type", "veth", "peer", "name", "eth0p", "mtu", "\(mtu)")
        try scene.ip("link", "set", "eth0", "master", "br0")
        try scene.ip("link", "set", "br0", "mtu", "\(mtu)")
    }

    /// The access bridge part of a plan (a VLAN leg needs 802.1Q): created, raised to 9000 and
    /// seen so by the kernel; a failure after it undoes it all.
    @Test func aNewAccessBridgeIsRaisedAndAFailureUndoesIt() throws {
        try withScene { scene in
            try Self.buildScene(scene, mtu: 9000)
            let handle = try scene.handle()
            let observed = try Self.snapshot(handle)
            let plan = try Planner(topology: Topology.resolve(config: try HostConfig(toml: Self.config), observed: observed), observed: observed)
                .plan(try Self.guest(mtu: 9000), operation: .prepare)
            #expect(plan.actions.contains(.setMTU(link: link("br0v10"), mtu: 9000)))
            let bridgeOnly = plan.actions.filter { $0.links.allSatisfy { $0 != link("br0.10") } }
            #expect(bridgeOnly.map(\.description).contains("ip link set br0v10 mtu 9000"))

            // A failure at the last action (the MTU) leaves the namespace as it was.
            let failing = #expect(throws: ExecutionError.self) {
                try Executor(handle: handle, faultInjection: .failAction(bridgeOnly.count), logger: scene.logger)
                    .apply(bridgeOnly + [.setMTU(link: link("br0"), mtu: 1400)], .atomic(before: observed))
            }
            #expect(failing?.rollbackClean == true)
            #expect(try handle.snapshot().link(named: "br0v10") == nil)

            _ = try Executor(handle: handle, logger: scene.logger).apply(bridgeOnly, .atomic(before: observed))
            #expect(try handle.snapshot().link(named: "br0v10")?.mtu == 9000)
            #expect(try scene.iproute2Links()["br0v10"]?["mtu"] as? Int == 9000)
            // A 9000-byte tap joining keeps it at 9000.
            try scene.ip("link", "add", "vnet0", "mtu", "9000", "type", "veth", "peer", "name", "vnet0p", "mtu", "9000")
            try scene.ip("link", "set", "vnet0", "master", "br0v10")
            #expect(try handle.snapshot().link(named: "br0v10")?.mtu == 9000)
        }
    }

    /// The kernel's MTU change is undone by the inverse the planner computes: back to what it was.
    @Test func rollbackPutsAnMTUBack() throws {
        try withScene { scene in
            try Self.buildScene(scene, mtu: 1500)
            let handle = try scene.handle()
            let before = try handle.snapshot()
            let actions: [Action] = [.setMTU(link: link("br0"), mtu: 1400), .setUp(link("br0"))]
            let error = #expect(throws: ExecutionError.self) {
                try Executor(handle: handle, faultInjection: .failAction(1), logger: scene.logger).apply(actions, .atomic(before: before))
            }
            #expect(error?.rollbackClean == true)
            #expect(try handle.snapshot().link(named: "br0")?.mtu == 1500)
        }
    }

    /// An uplink of 1500 cannot carry a 9000-byte guest: the plan is refused from the real snapshot.
    @Test func refusedWhenTheUplinkIsTooSmall() throws {
        try withScene { scene in
            try Self.buildScene(scene, mtu: 1500)
            let observed = try Self.snapshot(try scene.handle())
            let refusal = #expect(throws: Refusal.self) {
                try Planner(topology: Topology.resolve(config: try HostConfig(toml: Self.config), observed: observed), observed: observed)
                    .plan(try Self.guest(mtu: 9000), operation: .prepare)
            }
            #expect(
                refusal?.description.hasPrefix(
                    "guest 'jumbo1', NIC \(Self.web): the guest's <mtu size='9000'> does not fit the path to the wire: eth0 has MTU 1500") == true)
            #expect(refusal?.description.contains("ip link set eth0 mtu 9000") == true)
        }
    }
}
