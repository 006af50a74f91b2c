import ArgumentParser
import Foundation
import Testing
import VLANWire
import VLANWireReports
import VLANWireTestSupport

@testable import vlanwire

/// doctor and trace on VLAN legs, which need 802.1Q: skipped on kernels without it, run in the
/// lab VM (`LAB_SWIFT_TEST_FILTER=LabVLAN scripts/lab 90-swift-tests`).
@Suite("LabVLAN: doctor and trace on VLAN legs", .enabled(if: Host.isRoot && Host.hasVLANKernel, Host.vlanComment))
struct LabVLANDoctorTests {
    /// The seed's trouble in a namespace: up0 is a port of br0 and up0.5 hangs off up0.
    @Test func legOnTheBridgedUplinkIsAnErrorAndTraceShowsWhere() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            try scene.ip("link", "add", "link", "up0", "name", "up0.5", "type", "vlan", "id", "5")
            try scene.ip("link", "set", "up0.5", "up")
            let files = try TemporaryDirectory()
            let report = try DoctorScene.report(scene, files: files)
            let finding = try #require(report.findings.first { $0.check == .vlanLegOnBridgePort })
            #expect(finding.severity == .error)
            #expect(finding.links == ["up0.5", "up0", "br0"])
            #expect(finding.message.contains("takes every VLAN 5 frame arriving on up0 before bridge br0 sees it"))
            #expect(report.hasErrors)

            let trace = try TraceCommand.parse([
                "--netns", scene.name, "--config", try files.write("c.toml", DoctorScene.config),
                "--xml", try files.write("t1.xml", DoctorScene.guestXML()), "--vlan", "5",
            ]).output()
            let flow = try #require(trace.nics.first?.flows.first)
            #expect(flow.inbound.droppedAt == "up0")
            #expect(flow.outbound.droppedAt == nil)
        }
    }

    /// An access bridge fed by br0.5 whose MTU is below both ends.
    @Test func legWithASmallMTU() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            try scene.ip("link", "add", "link", "br0", "name", "br0.5", "type", "vlan", "id", "5")
            try scene.ip("link", "add", "br0v5", "type", "bridge", "stp_state", "0", "forward_delay", "0")
            try scene.ip("link", "add", "vnet1", "type", "veth", "peer", "name", "vnet1p")
            try scene.ip("link", "set", "br0.5", "master", "br0v5")
            try scene.ip("link", "set", "vnet1", "master", "br0v5")
            try scene.ip("link", "set", "br0.5", "mtu", "1400")
            for link in ["br0.5", "br0v5", "vnet1", "vnet1p"] { try scene.ip("link", "set", link, "up") }
            let report = try DoctorScene.report(scene, files: try TemporaryDirectory()) { $0.findings.contains { $0.check == .mtuBottleneck } }
            let finding = try #require(report.findings.first { $0.check == .mtuBottleneck })
            #expect(finding.links == ["br0.5", "up0", "vnet1"])
            #expect(finding.fix == "ip netns exec \(scene.name) ip link set br0.5 mtu 1500")
            #expect(DoctorScene.beyondInfo(report).map(\.check) == [.mtuBottleneck])
        }
    }

    /// Two legs take VLAN 5 from one wire: up0.5 (on the port) gets every frame, br0.5 none.
    @Test func twoLegsOfOneVLAN() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            try scene.ip("link", "add", "link", "up0", "name", "up0.5", "type", "vlan", "id", "5")
            try scene.ip("link", "add", "link", "br0", "name", "br0.5", "type", "vlan", "id", "5")
            for link in ["up0.5", "br0.5"] { try scene.ip("link", "set", link, "up") }
            let report = try DoctorScene.report(scene, files: try TemporaryDirectory())
            let finding = try #require(report.findings.first { $0.check == .duplicateVLANLeg })
            #expect(finding.links == ["br0.5", "up0.5", "up0"])
            #expect(finding.fix == "keep the leg on the bridge: ip netns exec \(scene.name) ip link del up0.5")
        }
    }
}
