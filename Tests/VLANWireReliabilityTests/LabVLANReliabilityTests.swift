import Foundation
import Testing
import VLANWire
import VLANWireHost
import VLANWireNetlink
import VLANWireTestSupport

/// Issue 9 parts 2 and 3 with VLAN legs and vlan_filtering: needs 802.1Q, so skipped on kernels
/// without it and run in the lab VM (`LAB_SWIFT_TEST_FILTER=LabVLAN scripts/lab 90-swift-tests`).
extension Reliability {
    @Suite(
        "LabVLAN reliability: faults, SIGKILL and 32 concurrent hooks with VLAN legs",
        .enabled(if: Host.isRoot && Host.hasVLANKernel, Host.vlanComment), .serialized)
    struct LabVLANReliabilityTests {
        /// Every seed scenario's prepare and start, guest by guest, through `Wiring` with a fault at
        /// every action k: the kernel exactly as before and the state unchanged; then the run without
        /// a fault; the user's bridge and port survive; release of every guest returns the namespace
        /// to how it started.
        @Test(arguments: Seed.scenarios + ["vlan-aware"])
        func aFaultAtEveryStepOfTheFullPlansLeavesTheKernelAsItWas(_ scenario: String) throws {
            var faults = 0
            try withScene { scene in
                try Seed.build(scenario, in: scene)
                if scenario == "vlan-aware" { try scene.ip("link", "set", "br0", "type", "bridge", "vlan_filtering", "1") }
                let config = try Seed.config(scenario)
                let store = StateStore(directory: scene.stateDirectory)
                var tapNumber = 0
                for domain in try Seed.domains(scenario) {
                    for operation in [HookOperation.prepare, .start] {
                        if operation == .start {
                            // libvirt puts each tap in the XML's bridge between prepare and start.
                            for (offset, interface) in domain.interfaces.enumerated() {
                                // Access bridges only: a trunk guest's tap stays out of br0, so its start has work (and faults).
                                if let bridge = interface.sourceBridge, bridge != "br0", (try? scene.snapshot().link(named: bridge)) != nil {
                                    try scene.ip("link", "set", "vnet\(tapNumber + offset)", "master", bridge)
                                }
                            }
                        }
                        let before = try settledSnapshot(scene)
                        let stateBefore = store.peek()
                        var k = 0
                        while true {
                            let wiring = Wiring(
                                namespace: try scene.namespace(), store: store, config: config, logger: scene.logger,
                                faultInjection: .failAction(k))
                            do {
                                _ = try wiring.apply(domain, operation: operation)
                                break
                            } catch let refusal as Refusal where refusal.description.contains("fault injected") {
                                faults += 1
                                let after = try snapshot(scene, settlingTo: before)
                                #expect(after == before, "\(scenario) \(domain.name) \(operation) fault at \(k):\n\(differences(before, after))")
                                #expect(store.peek() == stateBefore, "the state changed after a failed run")
                            } catch {
                                // The scenario refuses this guest on purpose (e.g. a trunk a classic bridge cannot
                                // filter); a failure of the kernel is a finding.
                                #expect(!"\(error)".contains("could not wire"), "\(scenario) \(domain.name) \(operation): \(error)")
                                break
                            }
                            k += 1
                            guard k < 200 else {
                                Issue.record("no end to the plan")
                                break
                            }
                        }
                    }
                    tapNumber += domain.interfaces.count
                }
                // libvirt removes the taps when the guests stop; a tap left in an access bridge keeps it.
                for number in 0..<tapNumber { try scene.ip("link", "set", "vnet\(number)", "nomaster") }
                for domain in try Seed.domains(scenario) {
                    _ = Wiring(namespace: try scene.namespace(), store: store, config: config, logger: scene.logger).release(guest: domain.name)
                }
                let end = try settledSnapshot(scene)
                #expect(end.link(named: "userbr") != nil && end.link(named: "userport")?.master == "userbr")
                let created = Set(end.links.filter(\.isMarkedByVLANWire).map(\.name))
                #expect(created.isEmpty, "left over: \(created)")
            }
            Figures.report("faults injected (\(scenario), full plans, lab)", faults)
        }

        static let config = "[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nmode = \"classic\"\nvlans = \"1,5,10,20,30\"\n"

        static func accessGuest(_ index: Int, vid: Int) -> [UInt8] {
            Array(
                """
                <domain type='kvm'><name>a\(index)</name><devices>
                <interface type='bridge'><mac address='\(String(format: "52:54:00:20:00:%02x", index))'/><source bridge='br0v\(vid)'/><target dev='vnet\(index)'/></interface>
                </devices></domain>
                """.utf8)
        }

        func accessScene(_ scene: Scene, taps: Int) throws -> String {
            try scene.ip("link", "add", "eth0", "type", "veth", "peer", "name", "sw0")
            try scene.ip("link", "add", "br0", "type", "bridge")
            try scene.ip("link", "set", "eth0", "master", "br0")
            // Up, as on a real host: a VLAN leg cannot come up on a bridge that is down.
            try scene.ip("link", "set", "eth0", "up")
            try scene.ip("link", "set", "br0", "up")
            // The user's own VLAN leg on the uplink's bridge, and a bridge: never deleted.
            try scene.ip("link", "add", "link", "br0", "name", "br0.99", "type", "vlan", "id", "99")
            try scene.ip("link", "add", "userbr", "type", "bridge")
            for index in 0..<taps { try scene.tap("vnet\(index)", mac: String(format: "52:54:00:20:00:%02x", index)) }
            return try temporaryFile("vlanwire.toml", Array(Self.config.utf8))
        }

        /// SIGKILL after action k of a start that creates an access bridge and its VLAN leg and moves
        /// the tap in, for k = 0, 1, 2, ... until the run gets through, then start again: converges; release then
        /// removes everything vlanwire made (the orphans a killed run left are adopted), and the
        /// user's leg and bridge stay. One namespace for all k (the lab VM is slow).
        @Test(.enabled(if: Host.canRunBinary, Host.binaryComment))
        func sigkillMidStartThenAgainConvergesAndReleaseCleansUp() throws {
            var kills = 0
            try withScene { scene in
                let config = try accessScene(scene, taps: 1)
                defer { unlink(config) }
                let xml = Self.accessGuest(0, vid: 5)
                // An earlier guest recorded, so the state file exists when the kill comes.
                let other = try scene.hook(guest: "a9", "prepare", xml: Self.accessGuest(9, vid: 10), config: config)
                #expect(other.status == 0, "\(other.stderr)")
                let initial = try scene.snapshot()
                for k in 0..<12 {
                    let killed = try FaultTests().runStopped(scene, guest: "a0", xml: xml, config: config, stopAfter: k)
                    guard killed else {
                        // k past the plan's end: that run finished and a0 runs; it stops.
                        try scene.ip("link", "set", "vnet0", "nomaster")
                        #expect(try scene.hook(guest: "a0", "release", xml: xml, config: config).status == 0)
                        break
                    }
                    kills += 1
                    // The killed run was a start (prepare's bridge and leg, then the tap): the same again.
                    let again = try scene.hook(guest: "a0", "start", xml: xml, config: config)
                    #expect(again.status == 0, "after a kill at \(k): \(again.stderr)")
                    let wired = try scene.snapshot()
                    #expect(wired.link(named: "br0v5")?.adminUp == true, "after a kill at \(k)")
                    #expect(wired.link(named: "br0.5")?.master == "br0v5", "after a kill at \(k)")
                    #expect(wired.link(named: "vnet0")?.master == "br0v5", "after a kill at \(k)")
                    // The guest stops: libvirt removes its tap, then runs release.
                    try scene.ip("link", "set", "vnet0", "nomaster")
                    let stateBefore = (try? String(contentsOfFile: scene.stateDirectory + "/state.json", encoding: .utf8)) ?? "none"
                    let release = try scene.hook(guest: "a0", "release", xml: xml, config: config, extra: ["VLANWIRE_LOG": "debug"])
                    #expect(release.status == 0)
                    let end = try scene.snapshot()
                    #expect(
                        Set(end.links.map(\.name)) == Set(initial.links.map(\.name)),
                        "after a kill at \(k) and release:\n\(release.stderr)\nstate before release: \(stateBefore)")
                    #expect(end.link(named: "br0v10")?.index == initial.link(named: "br0v10")?.index, "a9's bridge survived")
                }
                #expect(try scene.hook(guest: "a9", "release", xml: Self.accessGuest(9, vid: 10), config: config).status == 0)
                let end = try scene.snapshot()
                #expect(end.links.filter(\.isMarkedByVLANWire).isEmpty, "left over: \(end.links.filter(\.isMarkedByVLANWire).map(\.name))")
                #expect(end.link(named: "br0.99") != nil && end.link(named: "userbr") != nil)
            }
            #expect(kills >= 2)
            Figures.report("SIGKILLs mid-apply (lab, access bridge + leg)", kills)
        }

        /// 32 hook processes at once for guests sharing four access bridges (VLANs 5, 10, 20, 30):
        /// prepare, start; then half release while the other half reconnect; then the rest release.
        /// No lost record, no access bridge deleted while one of its guests runs, none left at the end.
        @Test(.enabled(if: Host.canRunBinary, Host.binaryComment))
        func thirtyTwoHooksSharingAccessBridges() throws {
            let count = 32
            let vids = [5, 10, 20, 30]
            try withScene { scene in
                let config = try accessScene(scene, taps: count)
                defer { unlink(config) }
                let sceneRef = scene
                func run(_ operation: String, _ indexes: [Int]) throws {
                    for result in concurrently(
                        indexes.count,
                        { position in
                            let index = indexes[position]
                            // 32 processes under TCG take their turns slowly: the hang bound is generous.
                            return try sceneRef.hook(
                                guest: "a\(index)", operation, xml: Self.accessGuest(index, vid: vids[index % 4]),
                                config: config, timeout: .seconds(240), binary: Binary.hook)
                        })
                    {
                        let value = try result.get()
                        #expect(!value.timedOut && value.status == 0, "\(operation): \(value.stderr)")
                    }
                }
                try run("prepare", Array(0..<count))
                for index in 0..<count { try scene.ip("link", "set", "vnet\(index)", "master", "br0v\(vids[index % 4])") }
                try run("start", Array(0..<count))
                var state = try storedState(scene.stateDirectory)
                #expect(state.guests.count == count)
                let kernel = try scene.snapshot()
                for vid in vids {
                    #expect(kernel.link(named: "br0v\(vid)")?.isMarkedByVLANWire == true)
                    #expect(kernel.link(named: "br0.\(vid)")?.master == "br0v\(vid)")
                }
                // Guests on VLAN 5 and 10 all stop; those on 20 and 30 reconnect, at the same time.
                let stopping = (0..<count).filter { vids[$0 % 4] <= 10 }
                let staying = (0..<count).filter { vids[$0 % 4] > 10 }
                // qemu exits and its taps go before libvirt runs the stop hooks.
                for index in stopping { try scene.ip("link", "del", "vnet\(index)") }
                for result in concurrently(
                    count,
                    { position in
                        let index = position < stopping.count ? stopping[position] : staying[position - stopping.count]
                        return try sceneRef.hook(
                            guest: "a\(index)", position < stopping.count ? "release" : "reconnect",
                            xml: Self.accessGuest(index, vid: vids[index % 4]), config: config, timeout: .seconds(240), binary: Binary.hook)
                    })
                {
                    #expect(try result.get().status == 0)
                }
                state = try storedState(scene.stateDirectory)
                #expect(Set(state.guests.map(\.name)) == Set(staying.map { "a\($0)" }))
                let middle = try scene.snapshot()
                for vid in [20, 30] { #expect(middle.link(named: "br0v\(vid)") != nil, "br0v\(vid) deleted while its guests run") }
                for vid in [5, 10] { #expect(middle.link(named: "br0v\(vid)") == nil, "br0v\(vid) left although unused") }
                for index in staying { try scene.ip("link", "del", "vnet\(index)") }
                try run("release", staying)
                let end = try settledSnapshot(scene)
                #expect(end.links.filter(\.isMarkedByVLANWire).isEmpty)
                #expect(end.link(named: "br0.99") != nil && end.link(named: "userbr") != nil)
                #expect(try storedState(scene.stateDirectory).guests.isEmpty)
                Figures.report("concurrent hook runs (lab)", count * 4)
            }
        }
    }
}
