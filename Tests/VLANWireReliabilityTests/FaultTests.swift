import Foundation
import Testing
import VLANWire
import VLANWireHost
import VLANWireNetlink
import VLANWireTestSupport

/// The seed's scenarios (Examples/): each guest's XML and the scenario's config.
enum Seed {
    static let scenarios = ["access-mode", "trunk-mode", "mixed"]

    static func domains(_ scenario: String) throws -> [DomainDescription] {
        let directory = Repository.path("Examples/" + scenario)
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".xml") }.sorted().map { file in
            try DomainDescription(xml: Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))), guestHint: file)
        }
    }

    static func config(_ scenario: String) throws -> HostConfig {
        let path = Repository.path("Examples/" + scenario + "/vlanwire.toml")
        return try HostConfig(toml: String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self), path: path)
    }

    /// The scenario's host before any guest: eth0 (a veth), br0 with eth0 when the config has a
    /// trunk bridge; each guest NIC's tap stand-in (libvirt's tap MAC), in no bridge.
    static func build(_ scenario: String, in scene: Scene) throws {
        try scene.ip("link", "add", "eth0", "type", "veth", "peer", "name", "sw0")
        try scene.ip("link", "set", "eth0", "up")
        if try config(scenario).uplinks.contains(where: { $0.bridge != nil }) {
            try scene.ip("link", "add", "br0", "type", "bridge")
            try scene.ip("link", "set", "eth0", "master", "br0")
            try scene.ip("link", "set", "br0", "up")
        }
        var number = 0
        for domain in try domains(scenario) {
            for interface in domain.interfaces {
                guard let mac = interface.mac else { continue }
                try scene.tap("vnet\(number)", mac: mac.description)
                number += 1
            }
        }
        // A bridge and a port the user made: must survive everything.
        try scene.ip("link", "add", "userbr", "type", "bridge")
        try scene.ip("link", "add", "userport", "type", "veth", "peer", "name", "userpeer")
        try scene.ip("link", "set", "userport", "master", "userbr")
    }

    /// The scenario's plans (prepare then start for every guest, as if each ran in turn), made
    /// against `observed`; with `bridgesOnly`, what this kernel can do: actions on VLAN legs dropped.
    static func plan(_ scenario: String, observed: ObservedState, bridgesOnly: Bool) throws -> [Action] {
        var kernel = observed
        if bridgesOnly { kernel.capabilities = KernelCapabilities(vlan8021Q: true, bridgeVLANFiltering: false) }
        let planner = Planner(topology: Topology.resolve(config: try config(scenario), observed: kernel), observed: kernel, state: .empty)
        var actions: [Action] = []
        for domain in try domains(scenario) {
            for operation in [HookOperation.prepare, .start] {
                // The trunk-mode and mixed router asks for more than a classic bridge can filter on
                // some configs: plans that are refused contribute nothing.
                guard let plan = try? planner.plan(domain, operation: operation) else { continue }
                for action in plan.actions where !actions.contains(action) { actions.append(action) }
            }
        }
        guard bridgesOnly else { return actions }
        let legs = Set(
            actions.compactMap { action -> LinkName? in
                if case .createVLANLeg(let name, _, _) = action { name } else { nil }
            })
        return actions.filter { Set($0.links).isDisjoint(with: legs) }
    }
}

/// Issue 9, part 2: a fault at every step of the seed's plans leaves the kernel as it was; SIGKILL
/// mid-apply then a new run converges; no state file, however broken, makes vlanwire delete a
/// link it did not create.
extension Reliability {
    @Suite("Injected faults, SIGKILL, broken state files", .enabled(if: Host.isRoot, Host.rootComment), .serialized)
    struct FaultTests {
        /// Every k of each scenario's (bridge-only) plan: action k fails, the rollback restores the
        /// namespace exactly. Then every netlink request k (inside multi-message actions too).
        @Test(arguments: Seed.scenarios)
        func aFaultAtEveryStepLeavesTheKernelAsItWas(_ scenario: String) throws {
            var faults = 0
            try withScene { scene in
                try Seed.build(scenario, in: scene)
                let handle = try scene.handle()
                let before = try settledSnapshot(scene)
                let actions = try Seed.plan(scenario, observed: before, bridgesOnly: true)
                #expect(!actions.isEmpty, "the \(scenario) plan has something this kernel can do")
                for k in actions.indices {
                    let executor = Executor(handle: handle, faultInjection: .failAction(k), logger: scene.logger)
                    #expect(throws: ExecutionError.self, "action \(k)") { try executor.apply(actions, .atomic(before: before)) }
                    faults += 1
                    let after = try snapshot(scene, settlingTo: before)
                    #expect(after == before, "\(scenario), fault at action \(k) (\(actions[k])):\n\(differences(before, after))")
                }
                var request = 0
                while true {
                    let executor = Executor(handle: handle, faultInjection: .failRequest(request), logger: scene.logger)
                    do {
                        _ = try executor.apply(actions, .atomic(before: before))
                        break  // past the last request: the plan went through
                    } catch {
                        faults += 1
                        let after = try snapshot(scene, settlingTo: before)
                        #expect(after == before, "\(scenario), fault at request \(request):\n\(differences(before, after))")
                    }
                    request += 1
                    guard request < 500 else {
                        Issue.record("no end to the requests")
                        break
                    }
                }
                // The plan itself works: it did change the kernel.
                #expect(try scene.snapshot() != before)
            }
            Figures.report("faults injected (\(scenario), bridge parts, executor)", faults)
        }

        /// The same through the binary's DEBUG-only seam: the hook with a fault at every action of a
        /// guest with two NICs whose taps are in no bridge (both must be enslaved): exit 1, kernel and
        /// state as before; then without the fault it converges.
        @Test(.enabled(if: Host.canRunBinary, Host.binaryComment))
        func theHookWithAFaultAtEveryActionChangesNothing() throws {
            try withScene { scene in
                let config = try twoNICScene(scene)
                defer { unlink(config) }
                let before = try settledSnapshot(scene)
                var faults = 0
                for k in 0..<8 {
                    let result = try scene.hook(
                        guest: "router1", "start", xml: Self.twoNICGuest, config: config,
                        extra: ["VLANWIRE_TEST_FAULT": "fail-action:\(k)"])
                    if result.status == 0 { break }  // k is past the plan's last action
                    faults += 1
                    #expect(result.status == 1)
                    #expect(result.stderrLines.count == 1 && result.stderr.contains("fault injected by test"), "\(result.stderr)")
                    let after = try snapshot(scene, settlingTo: before)
                    #expect(after == before, "fault at action \(k):\n\(differences(before, after))")
                    #expect((try? storedState(scene.stateDirectory))?.guest(named: "router1") == nil)
                }
                #expect(faults >= 2, "the plan has at least one action per tap")
                Figures.report("faults injected (hook binary)", faults)
                let done = try scene.snapshot()
                #expect(done.link(named: "vnet0")?.master == "br0")
                #expect(done.link(named: "vnet1")?.master == "br0")
            }
        }

        static let twoNICGuest = Array(
            """
            <domain type='kvm'><name>router1</name>
            <metadata><vw:vlans xmlns:vw="urn:vlanwire:1">
            <vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='yes' tags='1,5'/></vw:interface>
            <vw:interface mac='52:54:00:00:00:02'><vw:vlan trunk='yes' tags='1,5'/></vw:interface></vw:vlans></metadata>
            <devices>
            <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><target dev='vnet0'/></interface>
            <interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/><target dev='vnet1'/></interface>
            </devices></domain>
            """.utf8)

        /// br0 (classic trunk over eth0 carrying 1,5), taps vnet0/vnet1 in no bridge, a user bridge.
        func twoNICScene(_ scene: Scene) throws -> String {
            try scene.ip("link", "add", "eth0", "type", "veth", "peer", "name", "sw0")
            try scene.ip("link", "add", "br0", "type", "bridge")
            try scene.ip("link", "set", "eth0", "master", "br0")
            try scene.tap("vnet0", mac: "52:54:00:00:00:01")
            try scene.tap("vnet1", mac: "52:54:00:00:00:02")
            try scene.ip("link", "add", "userbr", "type", "bridge")
            return try temporaryFile(
                "vlanwire.toml", Array("[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nmode = \"classic\"\nvlans = \"1,5\"\n".utf8))
        }

        /// SIGKILL after each action of the hook's run (the DEBUG seam stops the process right after
        /// action k; the test kills it there), then the hook again: it converges (both taps in br0, the
        /// guest recorded), no temp file is left, and release forgets the guest.
        @Test(.enabled(if: Host.canRunBinary, Host.binaryComment))
        func sigkillMidApplyThenRunningAgainConverges() throws {
            var kills = 0
            for k in 0..<2 {
                try withScene { scene in
                    let config = try twoNICScene(scene)
                    defer { unlink(config) }
                    let before = try settledSnapshot(scene)
                    let killed = try runStopped(scene, guest: "router1", xml: Self.twoNICGuest, config: config, stopAfter: k)
                    #expect(killed, "the hook stopped after action \(k)")
                    kills += 1
                    let midway = try scene.snapshot()
                    #expect(midway != before, "action \(k) was applied before the kill")
                    #expect((try? storedState(scene.stateDirectory))?.guest(named: "router1") == nil, "killed before storing")
                    let again = try scene.hook(guest: "router1", "start", xml: Self.twoNICGuest, config: config)
                    #expect(again.status == 0, "\(again.stderr)")
                    let after = try scene.snapshot()
                    #expect(after.link(named: "vnet0")?.master == "br0")
                    #expect(after.link(named: "vnet1")?.master == "br0")
                    #expect(after.link(named: "userbr") != nil)
                    let state = try storedState(scene.stateDirectory)
                    #expect(state.guest(named: "router1")?.nics.count == 2)
                    #expect(state.guest(named: "router1")?.nics.allSatisfy { $0.tap != nil } == true)
                    let leftovers = try FileManager.default.contentsOfDirectory(atPath: scene.stateDirectory).filter { $0.hasSuffix(".tmp") }
                    #expect(leftovers.isEmpty, "\(leftovers)")
                    #expect(try scene.hook(guest: "router1", "release", xml: Self.twoNICGuest, config: config).status == 0)
                    #expect(try storedState(scene.stateDirectory).guests.isEmpty)
                }
            }
            Figures.report("SIGKILLs mid-apply (hook binary)", kills)
        }

        /// Starts the hook with the stop seam, waits until the kernel has stopped it, SIGKILLs it.
        func runStopped(_ scene: Scene, guest: String, xml: [UInt8], config: String, stopAfter k: Int) throws -> Bool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", scene.name, Binary.vlanwire, "hook", "qemu", guest, "start", "begin", "-"]
            process.environment = [
                "VLANWIRE_STATE_DIR": scene.stateDirectory, "VLANWIRE_CONFIG": config,
                "VLANWIRE_TEST_FAULT": "stop-after-action:\(k)",
            ]
            let input = Pipe()
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            input.fileHandleForWriting.write(Data(xml))
            try input.fileHandleForWriting.close()
            var stopped = false
            for _ in 0..<500 where !stopped {  // up to 10 s
                if let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                {
                    stopped = stat[stat.index(close, offsetBy: 2)] == "T"
                }
                if !stopped { Thread.sleep(forTimeInterval: 0.02) }
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return stopped && process.terminationReason == .uncaughtSignal
        }

        /// A link that carries vlanwire's mark but is missing from the state (what a run killed between
        /// creating a bridge and storing its state leaves) is adopted and deleted once unused; an
        /// unmarked bridge of the same kind of name is never touched.
        @Test func anOrphanMarkedLinkIsAdoptedAndAnUnmarkedOneSurvives() throws {
            try withScene { scene in
                try scene.ip("link", "add", "br0v7", "type", "bridge")
                try scene.ip("link", "set", "br0v7", "alias", StateStore(directory: scene.stateDirectory).mark.alias)
                try scene.ip("link", "add", "br0v8", "type", "bridge")
                try FileManager.default.createDirectory(
                    atPath: scene.stateDirectory, withIntermediateDirectories: false,
                    attributes: [.posixPermissions: 0o700])
                try Data(VLANWireState().stateJSON()).write(to: URL(fileURLWithPath: scene.stateDirectory + "/state.json"))
                let wiring = Wiring(
                    namespace: try scene.namespace(), store: StateStore(directory: scene.stateDirectory),
                    config: nil, logger: scene.logger)
                let outcome = wiring.release(guest: "someone")
                #expect(outcome.plan.deletions == [link("br0v7")])
                let after = try scene.snapshot()
                #expect(after.link(named: "br0v7") == nil)
                #expect(after.link(named: "br0v8") != nil)
            }
        }

        /// A first run on a fresh host (no state file, nothing marked) starts a state whose users are
        /// known: what vlanwire then creates is deleted again when its last guest goes.
        @Test func aFreshStateKnowsItsUsers() throws {
            #expect(VLANWireState.rebuilt(from: ObservedState(complete: true, links: []), mark: .namespaceDefault).usersUnknown == false)
            let marked = ObservedLink(index: 7, name: "br0v5", kind: "bridge", alias: LinkMark.namespaceDefault.alias)
            #expect(VLANWireState.rebuilt(from: ObservedState(complete: true, links: [marked]), mark: .namespaceDefault).usersUnknown == true)
        }

        enum BrokenState: String, CaseIterable, Sendable {
            case missing, empty, corrupt, truncated, foreignOwned, symlinked, claimsUnmarkedLink, claimsWrongIndex, fifo, directory
        }

        /// Whatever the state file is, a release (and a start) never deletes the user's bridges, nor a
        /// bridge the state claims but that does not carry vlanwire's mark and ifindex.
        @Test(arguments: BrokenState.allCases)
        func aBrokenStateFileNeverDeletesForeignLinks(_ broken: BrokenState) throws {
            try withScene { scene in
                try scene.ip("link", "add", "userbr", "type", "bridge")
                try scene.ip("link", "add", "br0v5", "type", "bridge")  // user-made, named like an access bridge
                try scene.ip("link", "add", "userport", "type", "veth", "peer", "name", "userpeer")
                try scene.ip("link", "set", "userport", "master", "userbr")
                let observed = try scene.snapshot()
                let claims = VLANWireState(
                    createdLinks: ["userbr", "br0v5", "userport"].map { name in
                        CreatedLink(
                            name: link(name), index: observed.link(named: name)!.index + (broken == .claimsWrongIndex ? 100 : 0),
                            kind: name == "userport" ? "vlan" : "bridge")
                    })
                let valid = claims.stateJSON()
                let directory = scene.stateDirectory
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                let path = directory + "/state.json"
                switch broken {
                case .missing: break
                case .empty: try Data().write(to: URL(fileURLWithPath: path))
                case .corrupt: try Data("{\"version\": 1, \"createdLinks\": [{]]".utf8).write(to: URL(fileURLWithPath: path))
                case .truncated: try Data(valid.prefix(valid.count / 2)).write(to: URL(fileURLWithPath: path))
                case .foreignOwned:
                    try Data(valid).write(to: URL(fileURLWithPath: path))
                    chown(path, 65534, 65534)
                case .symlinked:
                    let elsewhere = try temporaryFile("planted.json", valid)
                    symlink(elsewhere, path)
                case .claimsUnmarkedLink, .claimsWrongIndex: try Data(valid).write(to: URL(fileURLWithPath: path))
                case .fifo: mkfifo(path, 0o600)
                case .directory: mkdir(path, 0o700)
                }
                let wiring = Wiring(
                    namespace: try scene.namespace(), store: StateStore(directory: directory, lockTimeout: .seconds(5)),
                    config: nil, logger: scene.logger)
                let outcome = wiring.release(guest: "web1")
                #expect(outcome.plan.deletions.isEmpty, "\(broken): \(outcome.plan.deletions)")
                let after = try scene.snapshot()
                for name in ["userbr", "br0v5", "userport"] {
                    #expect(after.link(named: name)?.index == observed.link(named: name)?.index, "\(broken): \(name) was deleted")
                }
                #expect(after.link(named: "userport")?.master == "userbr")
            }
        }
    }
}
