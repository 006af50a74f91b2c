import Foundation
import Testing
import VLANWire
import VLANWireNetlink
import VLANWireTestSupport

/// Needs 802.1Q and bridge VLAN filtering: skipped on kernels without them, run for real in the
/// lab VM (`LAB_SWIFT_TEST_FILTER=LabVLAN scripts/lab 90-swift-tests`).
@Suite(
    "LabVLAN: port VLANs, VLAN legs and vlan_filtering on a real kernel",
    .enabled(if: Host.isRoot && Host.hasVLANKernel, Host.vlanComment))
struct LabVLANTests {
    /// br0 vlan-aware with a fixed MAC, a tap t0 in it with pvid 7 untagged and 10-20 tagged, a free veth v0.
    static func buildScene(_ scene: Scene) throws {
        try scene.ip("link", "add", "br0", "address", "02:00:00:00:00:01", "type", "bridge", "vlan_filtering", "1")
        try scene.ip("link", "add", "v0", "type", "veth", "peer", "name", "v0peer")
        try scene.ip("tuntap", "add", "t0", "mode", "tap")
        try scene.ip("link", "set", "t0", "master", "br0")
        try scene.bridge("vlan", "add", "dev", "t0", "vid", "7", "pvid", "untagged")
        try scene.bridge("vlan", "add", "dev", "t0", "vid", "10-20")
        try scene.ip("link", "set", "br0", "up")
    }

    /// `bridge -j vlan show` as PortVLANs by port name.
    static func iproute2PortVLANs(_ scene: Scene) throws -> [String: PortVLANs] {
        let text = try scene.bridge("-j", "-c", "vlan", "show")
        let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
        var result: [String: PortVLANs] = [:]
        for port in array {
            guard let name = port["ifname"] as? String, let vlans = port["vlans"] as? [[String: Any]] else { continue }
            var members = VLANSet()
            var untagged = VLANSet()
            var pvid: VLANID?
            for entry in vlans {
                let first = try VLANID(entry["vlan"] as? Int ?? 0)
                let last = try VLANID(entry["vlanEnd"] as? Int ?? Int(first.value))
                let flags = entry["flags"] as? [String] ?? []
                members = members.union(VLANSet(ranges: [first...last]))
                if flags.contains("Egress Untagged") { untagged = untagged.union(VLANSet(ranges: [first...last])) }
                if flags.contains("PVID") { pvid = first }
            }
            result[name] = PortVLANs(members: members, untagged: untagged, pvid: pvid)
        }
        return result
    }

    /// Fail closed: vlan_default_pvid 0 on a bridge in use. Set directly, the kernel strips VLAN 1
    /// from every port still on it and from the bridge itself; `setDefaultPVID` goes by way of a
    /// spare VLAN so that no port changes (frames across the change: lab scenario 26-watch) and
    /// ends with no trace of the spare. A port that joins afterwards carries no VLAN. Back to 1 (a
    /// rollback) the same way: no port changes, not even the one without any VLAN.
    @Test func closingABridgeKeepsTheDefaultOnKeptPortsAndNewPortsGetNone() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            try scene.ip("link", "set", "v0", "master", "br0")
            let handle = try scene.handle()
            let before = try handle.snapshot()
            #expect(before.link(named: "br0")?.bridge?.defaultPVID == 1)
            #expect(before.link(named: "br0")?.bridge?.selfVLANs == .kernelDefault, "the bridge's own VLAN 1")
            let sent = handle.messagesSent
            try handle.setDefaultPVID(bridge: link("br0"), to: nil, keeping: [link("t0"), link("v0"), link("br0")], via: vid(4094))
            #expect(handle.messagesSent - sent == 1, "one write")
            let after = try handle.snapshot()
            #expect(after.link(named: "br0")?.bridge?.defaultPVID == 0)
            #expect(after.link(named: "v0")?.port?.vlans == .kernelDefault, "kept")
            #expect(after.link(named: "br0")?.bridge?.selfVLANs == .kernelDefault, "kept (self)")
            #expect(after.link(named: "t0")?.port?.vlans == before.link(named: "t0")?.port?.vlans, "not on the default: untouched")
            let iproute2 = try Self.iproute2PortVLANs(scene)
            #expect(iproute2["v0"] == .kernelDefault && iproute2["br0"] == .kernelDefault)
            try scene.ip("link", "add", "v1", "type", "veth", "peer", "name", "v1peer")
            try scene.ip("link", "set", "v1", "master", "br0")
            #expect(try handle.snapshot().link(named: "v1")?.port?.vlans == PortVLANs(), "a joining port carries nothing")

            let closed = try handle.snapshot()
            try handle.setDefaultPVID(
                bridge: link("br0"), to: vid(1), keeping: [link("t0"), link("v0"), link("v1"), link("br0")],
                via: vid(4094))
            let reopened = try handle.snapshot()
            #expect(reopened.link(named: "br0")?.bridge?.defaultPVID == 1)
            for port in ["t0", "v0", "v1"] {
                #expect(reopened.link(named: port)?.port?.vlans == closed.link(named: port)?.port?.vlans, "\(port) untouched")
            }
            #expect(reopened.link(named: "br0")?.bridge?.selfVLANs == .kernelDefault)
            try scene.ip("link", "add", "v2", "type", "veth", "peer", "name", "v2peer")
            try scene.ip("link", "set", "v2", "master", "br0")
            #expect(try handle.snapshot().link(named: "v2")?.port?.vlans == .kernelDefault, "open again: the kernel's default")
        }
    }

    @Test func trunkOf4093VLANsIsOneMessageEachWay() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            try scene.ip("link", "set", "v0", "master", "br0")
            let handle = try scene.handle()
            #expect(try handle.snapshot().link(named: "v0")?.port?.vlans == .kernelDefault)

            let trunk = PortVLANs(policy: try PortPolicy.makeTrunk(tags: VLANSet(parsing: "2-4094"), native: vid(1)))
            var sent = handle.messagesSent
            try handle.addPortVLANs(link("v0"), trunk)
            #expect(handle.messagesSent - sent == 1)
            #expect(try handle.snapshot().link(named: "v0")?.port?.vlans == trunk)
            #expect(try Self.iproute2PortVLANs(scene)["v0"] == trunk)

            sent = handle.messagesSent
            try handle.removePortVLANs(link("v0"), VLANSet(parsing: "2-4094"))
            #expect(handle.messagesSent - sent == 1)
            #expect(try handle.snapshot().link(named: "v0")?.port?.vlans == .kernelDefault)

            // A handle that has not dumped yet looks the port's index up first: two messages.
            let cold = try scene.handle()
            try cold.addPortVLANs(link("v0"), trunk)
            #expect(cold.messagesSent == 2)
            #expect(try Self.iproute2PortVLANs(scene)["v0"] == trunk)
        }
    }

    @Test func accessPortAndScatteredTrunkReadBackAsWritten() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            let handle = try scene.handle()
            try handle.enslave(link("v0"), to: link("br0"))
            try handle.addPortVLANs(link("v0"), PortVLANs(policy: .access(vid(5))))
            try handle.removePortVLANs(link("v0"), VLANSet(vid(1)))
            #expect(try handle.snapshot().link(named: "v0")?.port?.vlans == PortVLANs(policy: .access(vid(5))))

            let scattered = PortVLANs(policy: try PortPolicy(parsing: "trunk:3,5,9-12,40,100-110,4094 native:10"))
            try handle.addPortVLANs(link("t0"), scattered)
            try handle.removePortVLANs(link("t0"), VLANSet(parsing: "1,7,13-20"))
            let state = try handle.snapshot()
            #expect(state.link(named: "t0")?.port?.vlans == scattered)
            #expect(try Self.iproute2PortVLANs(scene)["t0"] == scattered)
            #expect(state.link(named: "t0")?.port?.vlans?.pvid == vid(10))
        }
    }

    @Test func createsAMarkedVLANLegOnTheTrunkBridge() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            let handle = try scene.handle()
            let index = try handle.createVLANLeg(name: link("br0.5"), parent: link("br0"), vid: vid(5))
            let leg = try #require(try handle.snapshot().link(named: "br0.5"))
            #expect(leg.index == index)
            #expect(leg.kind == "vlan")
            #expect(leg.vlan == VLANLinkInfo(id: vid(5), parent: "br0"))
            #expect(leg.isMarkedByVLANWire)
            let json = try #require(try scene.iproute2Links()["br0.5"])
            let data = (json["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any]
            #expect(data?["id"] as? Int == 5)
            #expect(json["link"] as? String == "br0")
            #expect(try handle.snapshot().vlanLegs(on: "br0").map(\.name) == ["br0.5"])

            let duplicate = #expect(throws: NetlinkError.self) {
                try handle.createVLANLeg(name: link("br0.5b"), parent: link("br0"), vid: vid(5))
            }
            #expect(duplicate?.errno == EEXIST)
            let noParent = #expect(throws: NetlinkError.self) {
                try handle.createVLANLeg(name: link("eth9.5"), parent: link("eth9"), vid: vid(5))
            }
            #expect(noParent?.description == "Unable to create VLAN leg eth9.5 on eth9 (VLAN 5): No such device")
        }
    }

    @Test func togglesVLANFiltering() throws {
        try withScene { scene in
            let handle = try scene.handle()
            try handle.createBridge(BridgeSpec(name: link("brF")))
            #expect(try handle.snapshot().link(named: "brF")?.bridge?.vlanFiltering == false)
            try handle.setVLANFiltering(bridge: link("brF"), enabled: true)
            #expect(try handle.snapshot().link(named: "brF")?.bridge?.vlanFiltering == true)
            let data = (try scene.iproute2Links()["brF"]?["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any]
            #expect(data?["vlan_filtering"] as? Int == 1)
            try handle.setVLANFiltering(bridge: link("brF"), enabled: false)
            #expect(try handle.snapshot().link(named: "brF")?.bridge?.vlanFiltering == false)

            try handle.createBridge(BridgeSpec(name: link("brG"), vlanFiltering: true))
            #expect(try handle.snapshot().link(named: "brG")?.bridge?.vlanFiltering == true)
        }
    }

    @Test func detectsBothFeatures() throws {
        try withScene { scene in
            let capabilities = try scene.handle().capabilities()
            #expect(capabilities.vlan8021Q)
            #expect(capabilities.bridgeVLANFiltering)
            #expect(capabilities.missingDescription == nil)
        }
    }

    static let plan: [Action] = [
        .createBridge(BridgeSpec(name: link("brC"))),
        .setVLANFiltering(bridge: link("brC"), enabled: true),
        .createVLANLeg(name: link("br0.30"), parent: link("br0"), vid: vid(30)),
        .setUp(link("br0.30")),
        .enslave(link: link("v0"), bridge: link("br0")),
        .addPortVLANs(port: link("v0"), vlans: PortVLANs(policy: .trunk(tagged: try! VLANSet(parsing: "100-200"), native: vid(9)))),
        .removePortVLANs(port: link("v0"), vlans: VLANSet(vid(1))),
        .addPortVLANs(port: link("t0"), vlans: PortVLANs(policy: .access(vid(30)))),
        .removePortVLANs(port: link("t0"), vlans: try! VLANSet(parsing: "10-12")),
        .setVLANFiltering(bridge: link("br0"), enabled: false),
    ]

    @Test func aFailureAtAnyStepOfAVLANPlanLeavesTheNamespaceAsItWas() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            let handle = try scene.handle()
            let before = try settledSnapshot(handle)
            #expect(
                before.link(named: "t0")?.port?.vlans
                    == PortVLANs(
                        members: try VLANSet(parsing: "1,7,10-20"),
                        untagged: try VLANSet(parsing: "1,7"), pvid: vid(7)))
            let applied = try withScene { rehearsal in
                try Self.buildScene(rehearsal)
                let rehearsalHandle = try rehearsal.handle()
                return try Executor(handle: rehearsalHandle, logger: rehearsal.logger)
                    .apply(Self.plan, .atomic(before: try rehearsalHandle.snapshot()))
            }
            #expect(applied.appliedActions == Self.plan)
            let faults = Self.plan.indices.map(FaultInjection.failAction) + (0..<applied.messagesSent).map(FaultInjection.failRequest)
            for fault in faults {
                let error = #expect(throws: ExecutionError.self) {
                    try Executor(handle: handle, faultInjection: fault, logger: scene.logger).apply(Self.plan, .atomic(before: before))
                }
                #expect(error?.rollbackClean == true, "\(fault)")
                let after = try eventually({ try handle.snapshot() }) { $0 == before }
                #expect(after == before, "\(fault): \(differences(before, after))")
            }
        }
    }
}
