import Foundation
import Testing
import VLANWireTestSupport

/// `vlanwire plan` as a user runs it: the built binary, real-tool XML, exit statuses.
@Suite("vlanwire plan (the binary)")
struct PlanCommandTests {
    static func fixtures() -> [String] {
        ["virt-install", "hook-live"].flatMap { directory in
            let path = Repository.root + "/Tests/VLANWireTests/Fixtures/" + directory
            return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
                .filter { $0.hasSuffix(".xml") && !$0.hasPrefix("net-") }.sorted().map { path + "/" + $0 }
        }
    }

    func plan(_ arguments: [String], config: String = "Examples/mixed/vlanwire.toml") throws -> ProcessRun {
        try Subprocess.run(Binary.vlanwire, ["plan"] + arguments, environment: ["VLANWIRE_CONFIG": Repository.path(config)], cleanEnvironment: true)
    }

    /// Every fixture is read and planned. The live fixtures' router1 asks for trunk 1,5,10-20 on br0,
    /// which the config (vlans 1-20 on br0, classic) cannot enforce: refused, naming guest and NIC.
    @Test(arguments: fixtures())
    func acceptsEveryRealToolFixture(_ path: String) throws {
        let result = try plan([path, "--op", "prepare"], config: "Tests/VLANWireTests/Fixtures/classic-1-20.toml")
        if path.contains("/router1-") {
            #expect(result.status == 1)
            #expect(
                result.stderr.hasPrefix("guest 'router1', NIC 52:54:00:00:01:01: trunk:1,5,10-20 native:1 on classic bridge br0 cannot be enforced"),
                "\(result.stderr)")
        } else {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.hasPrefix("guest "))
        }
    }

    @Test func refusalsExitOneUsageErrorsExitTwo() throws {
        let bad = NSTemporaryDirectory() + "vw-plan-bad-\(getpid()).xml"
        try """
        <domain><name>web1</name><metadata><vw:vlans xmlns:vw="urn:vlanwire:1">
        <vw:interface mac="52:54:00:00:00:01"><vw:vlan tags="4095"/></vw:interface></vw:vlans></metadata>
        <devices><interface type="bridge"><mac address="52:54:00:00:00:01"/><source bridge="br0"/></interface></devices></domain>
        """.write(toFile: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let refused = try plan([bad])
        #expect(refused.status == 1)
        #expect(
            refused.stderr
                == "guest 'web1', NIC 52:54:00:00:00:01: vlanwire metadata: invalid VLAN set '4095': invalid VLAN id '4095': 4095 is reserved by 802.1Q (valid: 1...4094) — fix: VLAN ids are 1...4094, lists like 1,5,10-20\n"
        )
        #expect(refused.stdout.isEmpty)
        #expect(try plan([bad, "--op", "bogus"]).status == 2)
        #expect(try plan([]).status == 2)
    }
}
