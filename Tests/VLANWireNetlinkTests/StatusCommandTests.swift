import ArgumentParser
import Foundation
import Testing
import VLANWire
import VLANWireReports
import VLANWireTestSupport

@testable import vlanwire

@Suite("vlanwire status")
struct StatusCommandTests {
    static let state = ObservedState(
        complete: true,
        links: [
            ObservedLink(index: 2, name: "eth0", kind: nil, master: "br0", port: BridgePortInfo()),
            ObservedLink(
                index: 3, name: "br0", kind: "bridge",
                bridge: BridgeInfo(vlanFiltering: true, nfCallIPTables: false, nfCallIP6Tables: false, nfCallARPTables: false)),
            ObservedLink(
                index: 4, name: "vnet0", kind: "tun", master: "br0",
                port: BridgePortInfo(vlans: PortVLANs(policy: .access(try! VLANID(5))))),
            ObservedLink(
                index: 5, name: "br0.10", kind: "vlan", master: "br0v10", alias: LinkMark.namespaceDefault.alias,
                vlan: VLANLinkInfo(id: try! VLANID(10), parent: "br0"), port: BridgePortInfo()),
            ObservedLink(
                index: 6, name: "br0v10", kind: "bridge", adminUp: false, operState: "down", alias: LinkMark.namespaceDefault.alias,
                bridge: BridgeInfo()),
            ObservedLink(index: 7, name: "eth1.7", kind: "vlan", vlan: VLANLinkInfo(id: try! VLANID(7), parent: "eth1")),
        ],
        capabilities: KernelCapabilities(vlan8021Q: true, bridgeVLANFiltering: false),
        bridgeNetfilter: BridgeNetfilterSysctls(values: ["bridge-nf-call-iptables": 1, "bridge-nf-call-arptables": 0]))

    @Test func tableShowsBridgesWithTheirPortsAndLegs() {
        #expect(
            Status.table(Self.state) == """
                LINK      KIND    ADMIN  OPER  DETAILS
                br0       bridge  up     up    vlan-aware, stp off, forward_delay 0, nf_call off
                  eth0    -       up     up    port, forwarding
                  vnet0   tun     up     up    port, forwarding; VLANs: pvid 5, untagged 5
                  br0.10  vlan    up     up    VLAN 10 leg, port of br0v10; created by vlanwire
                br0v10    bridge  down   down  not vlan-aware, stp off, forward_delay 0; created by vlanwire
                  br0.10  vlan    up     up    port, forwarding; VLAN 10 leg on br0
                eth1.7    vlan    up     up    VLAN 7 leg on eth1

                Kernel: this kernel lacks bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING).

                Bridge netfilter sysctls on (bridged frames pass through iptables etc.): bridge-nf-call-iptables.

                """)
    }

    @Test func jsonIsTheObservedStateThatPlanReads() throws {
        let text = JSON.encode(Self.state)
        #expect(try JSONDecoder().decode(ObservedState.self, from: Data(text.utf8)) == Self.state)
    }

    @Test func refusesUnsafeNamespaceNames() throws {
        let status = try Status.parse(["--netns", "../../etc/x", "--json"])
        #expect(throws: (any Error).self) { try status.output() }
    }

    @Test(.enabled(if: Host.isRoot, Host.rootComment))
    func readsTheNamedNamespace() throws {
        try withScene { scene in
            try scene.ip("link", "add", "brS", "type", "bridge")
            let handle = try scene.handle()
            let state = try settledSnapshot(handle)
            let json = try Status.parse(["--netns", scene.name, "--json"]).output()
            #expect(try JSONDecoder().decode(ObservedState.self, from: Data(json.utf8)) == state)
            #expect(try Status.parse(["--netns", scene.name]).output().contains("brS"))
        }
    }
}
