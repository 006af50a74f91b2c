import Foundation
import Testing
import VLANWire
import VLANWireNetlink
import VLANWireTestSupport

@Suite("Executor on a real kernel, in throwaway namespaces", .enabled(if: Host.isRoot, Host.rootComment))
struct ExecutorTests {
    /// A host with an existing bridge br0 (fixed MAC, so ports joining and leaving do not change
    /// it), a tap t1 in it, a free veth v0 and a free tap t0.
    static func buildScene(_ scene: Scene) throws {
        try scene.ip("link", "add", "br0", "address", "02:00:00:00:00:01", "type", "bridge")
        try scene.ip("link", "add", "v0", "type", "veth", "peer", "name", "v0peer")
        try scene.ip("tuntap", "add", "t0", "mode", "tap")
        try scene.ip("tuntap", "add", "t1", "mode", "tap")
        try scene.ip("link", "set", "t1", "master", "br0")
        try scene.ip("link", "set", "br0", "up")
    }

    static let plan: [Action] = [
        .createBridge(BridgeSpec(name: link("brA"), netfilterOff: true)),
        .setUp(link("brA")),
        .enslave(link: link("v0"), bridge: link("brA")),
        .setUp(link("v0")),
        .enslave(link: link("t1"), bridge: link("brA")),  // moves t1 out of br0
        .enslave(link: link("t0"), bridge: link("br0")),
        .setBridgeNetfilter(bridge: link("br0"), enabled: true),
        .setDown(link("br0")),
    ]

    /// Equal up to what settles asynchronously: a snapshot taken right after a change may still
    /// show the old operstate.
    func settled(_ handle: NetlinkHandle, like expected: ObservedState) throws -> ObservedState {
        try eventually({ try handle.snapshot() }, until: { $0 == expected })
    }

    @Test func appliesAPlanAndReportsWhatItCreated() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            let handle = try scene.handle()
            let before = try handle.snapshot()
            let report = try Executor(handle: handle, logger: scene.logger).apply(Self.plan, .atomic(before: before))
            #expect(report.appliedActions == Self.plan)
            #expect(report.failures.isEmpty)
            let after = try handle.snapshot()
            let created = try #require(report.createdLinks.first)
            #expect(created.name == link("brA"))
            #expect(after.link(named: "brA")?.index == created.index)
            #expect(after.ports(of: "brA").map(\.name).sorted() == ["t1", "v0"])
            #expect(after.ports(of: "br0").map(\.name) == ["t0"])
            #expect(after.link(named: "br0")?.adminUp == false)
            #expect(report.messagesSent > 0)
        }
    }

    @Test func applyingTheSamePlanAgainChangesNothing() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            let handle = try scene.handle()
            let executor = Executor(handle: handle, logger: scene.logger)
            _ = try executor.apply(Self.plan, .atomic(before: try handle.snapshot()))
            let first = try eventually({ try handle.snapshot() }) { $0.link(named: "v0")?.port?.state == "forwarding" }
            // Everything but the creation is idempotent in the kernel; the planner does not re-plan
            // creations of links that exist.
            let again = Array(Self.plan.dropFirst())
            let report = try executor.apply(again, .atomic(before: first))
            #expect(report.appliedActions == again)
            #expect(try settled(handle, like: first) == first)
        }
    }

    @Test func aFailureAtAnyActionLeavesTheNamespaceAsItWas() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            let handle = try scene.handle()
            let before = try settledSnapshot(handle)
            for failing in Self.plan.indices {
                let error = #expect(throws: ExecutionError.self) {
                    try Executor(handle: handle, faultInjection: .failAction(failing), logger: scene.logger)
                        .apply(Self.plan, .atomic(before: before))
                }
                #expect(error?.failure.index == failing)
                #expect(error?.failure.action == Self.plan[failing])
                #expect(error?.rollbackClean == true)
                #expect(error?.report.appliedActions == Array(Self.plan.prefix(failing)))
                let after = try settled(handle, like: before)
                #expect(after == before, "failing action \(failing): \(differences(before, after))")
            }
        }
    }

    @Test func aFailureAtAnyRequestLeavesTheNamespaceAsItWas() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            let handle = try scene.handle()
            let before = try settledSnapshot(handle)
            let messages = try withScene { rehearsal in
                try Self.buildScene(rehearsal)
                let rehearsalHandle = try rehearsal.handle()
                let state = try rehearsalHandle.snapshot()
                return try Executor(handle: rehearsalHandle, logger: rehearsal.logger).apply(Self.plan, .atomic(before: state)).messagesSent
            }
            #expect(messages >= Self.plan.count)
            for failing in 0..<messages {
                let error = #expect(throws: ExecutionError.self) {
                    try Executor(handle: handle, faultInjection: .failRequest(failing), logger: scene.logger)
                        .apply(Self.plan, .atomic(before: before))
                }
                #expect(error?.rollbackClean == true, "failing request \(failing)")
                #expect(error?.failure.error.kernelMessage == "fault injected by test")
                let after = try settled(handle, like: before)
                #expect(after == before, "failing request \(failing): \(differences(before, after))")
            }
        }
    }

    @Test func aRealKernelRefusalRollsBackAndNamesTheAction() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            let handle = try scene.handle()
            let before = try settledSnapshot(handle)
            let plan = Self.plan + [.enslave(link: link("vnet3"), bridge: link("brA"))]
            let error = #expect(throws: ExecutionError.self) {
                try Executor(handle: handle, logger: scene.logger).apply(plan, .atomic(before: before))
            }
            #expect(error?.failure.index == Self.plan.count)
            #expect(error?.failure.error.description == "Unable to enslave vnet3 to brA: No such device")
            #expect(error?.rollbackClean == true)
            #expect(error?.description.contains("the \(Self.plan.count) earlier action(s) were undone") == true)
            #expect(try settled(handle, like: before) == before)
        }
    }

    @Test func bestEffortGoesOnPastFailures() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            let handle = try scene.handle()
            let plan: [Action] = [.releaseFromBridge(link: link("t1")), .deleteLink(link("gone0")), .deleteLink(link("br0"))]
            let report = try Executor(handle: handle, logger: scene.logger).apply(plan, .bestEffort)
            #expect(report.appliedActions == [plan[0], plan[2]])
            #expect(report.failures.map(\.index) == [1])
            #expect(report.failures.first?.error.errno == ENODEV)
            let after = try handle.snapshot()
            #expect(after.link(named: "br0") == nil)
            #expect(after.link(named: "t1")?.master == nil)
        }
    }

    @Test func deletingIsReportedAsIrreversible() throws {
        try withScene { scene in
            try Self.buildScene(scene)
            let handle = try scene.handle()
            let before = try handle.snapshot()
            let plan: [Action] = [.deleteLink(link("t0")), .setUp(link("t0"))]
            let error = #expect(throws: ExecutionError.self) {
                try Executor(handle: handle, logger: scene.logger).apply(plan, .atomic(before: before))
            }
            #expect(error?.rollbackClean == false)
            #expect(error?.irreversible == [.deleteLink(link("t0"))])
        }
    }
}
