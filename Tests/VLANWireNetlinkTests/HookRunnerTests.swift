import Foundation
import Logging
import Testing
import VLANWire
import VLANWireHost
import VLANWireNetlink
import VLANWireReports
import VLANWireTestSupport

/// The hook's dispatch and exit codes, on the real kernel in a throwaway namespace. This kernel has
/// no 802.1Q: the plans here move taps between bridges (the one wiring a plain bridge kernel can do),
/// and refusals are provoked with bad policies and with VLAN legs the kernel cannot make.
@Suite(.enabled(if: Host.isRoot, Host.rootComment), .serialized)
struct HookRunnerTests {
    /// br0 (trunk, eth0 as uplink), br1, and tap stand-in vnet0 (a veth with libvirt's tap MAC) in br1.
    func scene(
        _ body: (Scene, HookRunner, String) throws -> Void, faultInjection: FaultInjection = .none,
        config: String = "[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nvlans = \"1,5\"\n"
    ) throws {
        try withScene { scene in
            try scene.ip("link", "add", "eth0", "type", "veth", "peer", "name", "sw0")
            try scene.ip("link", "add", "br0", "type", "bridge")
            try scene.ip("link", "add", "br1", "type", "bridge")
            try scene.ip("link", "set", "eth0", "master", "br0")
            try scene.ip("link", "add", "vnet0", "address", "fe:54:00:00:00:01", "type", "veth", "peer", "name", "g0")
            try scene.ip("link", "set", "vnet0", "master", "br1")
            let stateDirectory = scene.stateDirectory
            let wiring = Wiring(
                namespace: try scene.namespace(), store: StateStore(directory: stateDirectory),
                config: try HostConfig(toml: config), logger: scene.logger, faultInjection: faultInjection)
            try body(scene, HookRunner(wiring: wiring), stateDirectory)
        }
    }

    func guest(_ name: String = "router1", metadata: String, bridge: String = "br0", tap: String? = "vnet0") -> [UInt8] {
        let target = tap.map { "<target dev='\($0)'/>" } ?? ""
        return Array(
            """
            <domain type='kvm'><name>\(name)</name>
            <metadata><vw:vlans xmlns:vw="urn:vlanwire:1">\(metadata)</vw:vlans></metadata>
            <devices><interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='\(bridge)'/>\(target)</interface></devices>
            </domain>
            """.utf8)
    }

    let fullTrunk = "<vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='yes' tags='1,5'/></vw:interface>"

    @Test func startMovesTheTapAndRecordsTheGuest() throws {
        try scene { scene, hook, stateDirectory in
            let result = hook.run(arguments: ["router1", "start", "begin", "-"], xml: guest(metadata: fullTrunk))
            #expect(result.exitCode == 0, "\(result.errors)")
            #expect(try scene.handle().snapshot().link(named: "vnet0")?.master == "br0")
            let state = try storedState(stateDirectory)
            #expect(state.guest(named: "router1")?.nics.first?.tap == link("vnet0"))
            #expect(state.guest(named: "router1")?.nics.first?.tapIndex != nil)
            // Idempotent: started finds nothing to do.
            #expect(hook.run(arguments: ["router1", "started", "begin", "-"], xml: guest(metadata: fullTrunk)).exitCode == 0)
            let release = hook.run(arguments: ["router1", "release", "end", "-"], xml: guest(metadata: fullTrunk))
            #expect(release.exitCode == 0)
            let after = try storedState(stateDirectory)
            #expect(after.guests.isEmpty)
        }
    }

    @Test func badPolicyRefusesPrepareAndChangesNothing() throws {
        try scene { scene, hook, _ in
            let before = try scene.handle().snapshot()
            let result = hook.run(
                arguments: ["web1", "prepare", "begin", "-"],
                xml: guest("web1", metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='4095'/></vw:interface>"))
            #expect(result.exitCode == 1)
            #expect(result.errors.count == 1)
            #expect(result.errors.first?.hasPrefix("vlanwire: guest 'web1', NIC 52:54:00:00:00:01:") == true)
            #expect(result.errors.first?.contains("4095") == true)
            #expect(try scene.handle().snapshot() == before)
        }
    }

    @Test(.enabled(if: Host.capabilities?.vlan8021Q == false, "checks the refusal on a kernel WITHOUT 802.1Q; this one has it"))
    func aGuestNeedingAVLANLegIsRefusedOnAKernelWithout8021Q() throws {
        try scene { scene, hook, _ in
            let before = try scene.handle().snapshot()
            let result = hook.run(
                arguments: ["web1", "prepare", "begin", "-"],
                xml: guest("web1", metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface>", tap: nil))
            #expect(result.exitCode == 1)
            #expect(result.errors.first?.contains("no 802.1Q VLAN support") == true, "\(result.errors)")
            #expect(try scene.handle().snapshot() == before)
        }
    }

    @Test func aFailedStartIsUndoneAndExitsOne() throws {
        try scene(
            { scene, hook, _ in
                let before = try scene.handle().snapshot()
                let result = hook.run(arguments: ["router1", "start", "begin", "-"], xml: guest(metadata: fullTrunk))
                #expect(result.exitCode == 1)
                #expect(result.errors.first?.contains("could not wire") == true, "\(result.errors)")
                #expect(try scene.handle().snapshot().link(named: "vnet0")?.master == before.link(named: "vnet0")?.master)
            }, faultInjection: .failAction(0))
    }

    @Test func reconnectAlwaysExitsZeroEvenWhenWiringFails() throws {
        try scene(
            { _, hook, _ in
                let failing = hook.run(arguments: ["router1", "reconnect", "begin", "-"], xml: guest(metadata: fullTrunk))
                #expect(failing.exitCode == 0)
                #expect(failing.errors.isEmpty)
                let refused = hook.run(
                    arguments: ["router1", "attach", "begin", "-"],
                    xml: guest(metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='0'/></vw:interface>"))
                #expect(refused.exitCode == 0)
                let malformed = hook.run(arguments: ["router1", "reconnect", "begin", "-"], xml: Array("<domain>".utf8))
                #expect(malformed.exitCode == 0)
            }, faultInjection: .failAction(0))
    }

    @Test func releaseNeverFails() throws {
        try scene { _, hook, stateDirectory in
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: stateDirectory + "/state.json", contents: Data("{not json".utf8)))
            #expect(hook.run(arguments: ["router1", "release", "end", "-"], xml: Array("garbage".utf8)).exitCode == 0)
            #expect(hook.run(arguments: ["router1", "stopped", "end", "-"], xml: guest(metadata: fullTrunk)).exitCode == 0)
        }
    }

    @Test func migrateAndRestoreEchoTheXML() throws {
        try scene { _, hook, _ in
            let xml = guest(metadata: fullTrunk, tap: nil)
            for operation in ["migrate", "restore"] {
                let result = hook.run(arguments: ["router1", operation, "begin", "-"], xml: xml)
                #expect(result.exitCode == 0)
                #expect(result.stdout == xml)
            }
            let refused = hook.run(
                arguments: ["router1", "migrate", "begin", "-"],
                xml: guest(metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='yes' tags='5'/></vw:interface>", tap: nil))
            #expect(refused.exitCode == 1)
            #expect(refused.stdout.isEmpty, "a failed migrate filter must not hand libvirt an XML")
        }
    }

    @Test func unknownOperationsAndUnmanagedGuestsCostNothing() throws {
        try scene { _, hook, stateDirectory in
            #expect(hook.run(arguments: ["router1", "frobnicate", "begin", "-"], xml: []).exitCode == 0)
            #expect(hook.run(arguments: [], xml: []).exitCode == 0)
            let userOnly = Array(
                "<domain><name>u1</name><devices><interface type='user'><mac address='52:54:00:00:00:09'/></interface></devices></domain>".utf8)
            for operation in ["prepare", "start", "release"] {
                #expect(hook.run(arguments: ["u1", operation, "begin", "-"], xml: userOnly).exitCode == 0)
            }
            #expect(!FileManager.default.fileExists(atPath: stateDirectory), "no lock or state for a guest vlanwire does not manage")
        }
    }

    /// stopped/release of a guest with bridge NICs that the state does not record (vlanwire wired
    /// nothing for it): no lock, no state, no netlink, no capability probe.
    @Test func releaseOfAGuestTheStateDoesNotKnowCostsNothing() throws {
        try scene { _, hook, stateDirectory in
            for operation in ["stopped", "release"] {
                #expect(hook.run(arguments: ["stranger", operation, "end", "-"], xml: guest("stranger", metadata: fullTrunk)).exitCode == 0)
            }
            #expect(!FileManager.default.fileExists(atPath: stateDirectory), "the state directory was never opened")
            // Once the state records another guest, a stranger's release still leaves it untouched.
            #expect(hook.run(arguments: ["router1", "start", "begin", "-"], xml: guest(metadata: fullTrunk)).exitCode == 0)
            let stateFile = stateDirectory + "/state.json"
            let before = try FileManager.default.attributesOfItem(atPath: stateFile)[.modificationDate] as? Date
            let lockBefore = try FileManager.default.attributesOfItem(atPath: stateDirectory + "/lock")[.modificationDate] as? Date
            #expect(hook.run(arguments: ["stranger", "release", "end", "-"], xml: guest("stranger", metadata: fullTrunk)).exitCode == 0)
            #expect(try FileManager.default.attributesOfItem(atPath: stateFile)[.modificationDate] as? Date == before)
            #expect(
                try FileManager.default.attributesOfItem(atPath: stateDirectory + "/lock")[.modificationDate] as? Date == lockBefore,
                "no lock taken (a lock holder writes its ticket)")
        }
    }
}
