import ArgumentParser
import Foundation
import Testing
import VLANWire
import VLANWireReports
import VLANWireTestSupport

@testable import vlanwire

/// A classic trunk bridge as this kernel can build it: uplink stand-in `up0` (a veth) in `br0`, a
/// guest's tap stand-in `vnet0` (a veth with the tap MAC libvirt would give 52:54:00:00:00:01).
enum DoctorScene {
    static let config = """
        [[uplink]]
        interface = "up0"
        bridge = "br0"
        mode = "classic"
        vlans = "1,5"
        """

    static func guestXML(metadata: String = "<vw:vlan trunk='yes' tags='1,5'/>") -> String {
        """
        <domain type='kvm'><name>t1</name>
          <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='52:54:00:00:00:01'>\(metadata)</vw:interface></vw:vlans></metadata>
          <devices><interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><target dev='vnet0'/></interface></devices>
        </domain>
        """
    }

    static let hasBridgeNetfilter = FileManager.default.fileExists(atPath: "/proc/sys/net/bridge/bridge-nf-call-iptables")
    static let netfilterComment = Comment(rawValue: "needs br_netfilter (/proc/sys/net/bridge) on this kernel")

    static func build(_ scene: Scene) throws {
        try scene.ip("link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
        try scene.ip("link", "add", "up0", "type", "veth", "peer", "name", "up0p")
        try scene.ip("link", "add", "vnet0", "type", "veth", "peer", "name", "vnet0p")
        try scene.ip("link", "set", "vnet0", "address", "fe:54:00:00:00:01")
        for port in ["up0", "vnet0"] { try scene.ip("link", "set", port, "master", "br0") }
        for link in ["br0", "up0", "up0p", "vnet0", "vnet0p"] { try scene.ip("link", "set", link, "up") }
        if hasBridgeNetfilter {
            try setSysctls(scene, 0)
        }
    }

    /// Every bridge netfilter sysctl of the scene's namespace (a new namespace starts with the call-* ones at 1).
    static func setSysctls(_ scene: Scene, _ value: Int, only: [String] = BridgeNetfilterSysctls.names) throws {
        try Scene.run("/usr/sbin/ip", ["netns", "exec", scene.name, "sysctl", "-q", "-w"] + only.map { "net.bridge.\($0)=\(value)" })
    }

    /// `vlanwire doctor --netns NS --no-libvirt --config ... --xml ...`, once the links have settled.
    static func report(
        _ scene: Scene, files: TemporaryDirectory, config: String = config, xml: String? = guestXML(),
        until condition: (DoctorReport) -> Bool = { _ in true }
    ) throws -> DoctorReport {
        var arguments = ["--netns", scene.name, "--no-libvirt", "--config", try files.write("vlanwire.toml", config)]
        if let xml { arguments += ["--xml", try files.write("t1.xml", xml)] }
        let command = try DoctorCommand.parse(arguments)
        _ = try settledSnapshot(try scene.handle())
        return try eventually({ try command.report() }, until: condition)
    }

    static func beyondInfo(_ report: DoctorReport) -> [Finding] { report.findings.filter { $0.severity > .info } }
}

@Suite("vlanwire doctor and trace on a real kernel, in throwaway namespaces", .enabled(if: Host.isRoot, Host.rootComment))
struct DoctorKernelTests {
    @Test func correctClassicTrunkHasNoFindingAboveInfo() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            let files = try TemporaryDirectory()
            let report = try DoctorScene.report(scene, files: files) { DoctorScene.beyondInfo($0).isEmpty }
            #expect(DoctorScene.beyondInfo(report) == [])
            // Info: libvirt not asked, and no watch ran for the namespace's state.
            #expect(report.findings.map(\.check) == [.guests, .watch])
            let command = try DoctorCommand.parse(["--netns", scene.name, "--no-libvirt", "--config", try files.write("c.toml", DoctorScene.config)])
            try command.run()  // exit status 0: no throw
        }
    }

    @Test func downUplinkAndTapWithoutCarrier() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            try scene.ip("link", "set", "up0", "down")
            try scene.ip("link", "set", "vnet0p", "down")
            let files = try TemporaryDirectory()
            let report = try DoctorScene.report(scene, files: files) { $0.findings.filter { $0.check == .linkDown }.count == 2 }
            let down = report.findings.filter { $0.check == .linkDown }
            #expect(down.map(\.links) == [["up0"], ["vnet0"]])
            #expect(down.map(\.severity) == [.error, .error])
            #expect(down[0].message == "up0 (uplink) is administratively down: frames do not pass it")
            #expect(down[0].fix == "ip netns exec \(scene.name) ip link set up0 up")
            #expect(down[1].message == "vnet0 (port of br0) has no carrier: its peer is down or gone")
            let command = try DoctorCommand.parse(["--netns", scene.name, "--no-libvirt", "--config", try files.write("c.toml", DoctorScene.config)])
            #expect(throws: ExitCode.failure) { try command.run() }
        }
    }

    @Test func portDisabledByHand() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            // With STP off the kernel keeps a port's state only when it is disabled (0).
            try scene.bridge("link", "set", "dev", "vnet0", "state", "0")
            let report = try DoctorScene.report(scene, files: try TemporaryDirectory())
            let finding = try #require(report.findings.first { $0.check == .portNotForwarding })
            #expect(finding.severity == .error)
            #expect(finding.links == ["vnet0", "br0"])
            #expect(finding.message == "port vnet0 of br0 is disabled: it forwards nothing (STP is off: the state was set by hand)")
            #expect(finding.fix == "ip netns exec \(scene.name) bridge link set dev vnet0 state 3")
        }
    }

    @Test func portStillListeningUnderSTP() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            try scene.ip("link", "set", "br0", "type", "bridge", "forward_delay", "3000", "stp_state", "1")
            try scene.ip("link", "set", "vnet0", "nomaster")
            try scene.ip("link", "set", "vnet0", "master", "br0")
            let report = try DoctorScene.report(scene, files: try TemporaryDirectory())
            let finding = try #require(report.findings.first { $0.check == .portNotForwarding && $0.links.first == "vnet0" })
            #expect(finding.severity == .warning)
            #expect(finding.message.contains("is listening: it forwards nothing until STP moves it to forwarding (forward_delay 30 s per state)"))
        }
    }

    @Test(.enabled(if: DoctorScene.hasBridgeNetfilter, DoctorScene.netfilterComment))
    func bridgeNetfilterSysctlsOfTheNamespace() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            try DoctorScene.setSysctls(scene, 1, only: ["bridge-nf-call-iptables", "bridge-nf-filter-vlan-tagged"])
            try scene.ip("link", "set", "br0", "type", "bridge", "nf_call_ip6tables", "1")
            let report = try DoctorScene.report(scene, files: try TemporaryDirectory())
            let findings = report.findings.filter { $0.check == .bridgeNetfilter }
            #expect(findings.map(\.links) == [["br0"], ["br0"]])
            #expect(findings[0].message.contains("(bridge-nf-call-iptables, bridge-nf-filter-vlan-tagged = 1)"))
            #expect(
                findings[0].fix?.hasPrefix(
                    "ip netns exec \(scene.name) sysctl -w net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-filter-vlan-tagged=0") == true)
            #expect(findings[1].fix?.hasPrefix("ip netns exec \(scene.name) ip link set br0 type bridge nf_call_ip6tables 0") == true)
            // The host's own sysctls are not what was read.
            try DoctorScene.setSysctls(scene, 0)
            try scene.ip("link", "set", "br0", "type", "bridge", "nf_call_ip6tables", "0")
            #expect(try DoctorScene.report(scene, files: try TemporaryDirectory()).findings.filter { $0.check == .bridgeNetfilter } == [])
        }
    }

    /// What doctor's bridge-netfilter message claims, on this kernel: a bridge's own nf_call_iptables
    /// at 0 does not stop the sysctl at 1 from sending its frames through iptables, and at 1 it sends
    /// them there with the sysctl at 0. (A FORWARD policy of DROP in the bridge's namespace shows it.)
    @Test(
        .enabled(
            if: DoctorScene.hasBridgeNetfilter && FileManager.default.fileExists(atPath: "/usr/sbin/iptables"),
            "needs br_netfilter and iptables"))
    func perBridgeOptionDoesNotOverrideTheSysctl() throws {
        try withScene { bridgeHost in
            try withScene { a in
                try withScene { b in
                    try bridgeHost.ip("link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
                    for (guest, port, address) in [(a, "pa", "192.0.2.1/24"), (b, "pb", "192.0.2.2/24")] {
                        try bridgeHost.ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", guest.name)
                        try bridgeHost.ip("link", "set", port, "master", "br0")
                        try bridgeHost.ip("link", "set", port, "up")
                        try guest.ip("addr", "add", address, "dev", "eth0")
                        try guest.ip("link", "set", "eth0", "up")
                    }
                    try bridgeHost.ip("link", "set", "br0", "up")
                    try Scene.run("/usr/sbin/ip", ["netns", "exec", bridgeHost.name, "iptables", "-P", "FORWARD", "DROP"])
                    func reaches() -> Bool {
                        (try? Scene.run("/usr/sbin/ip", ["netns", "exec", a.name, "ping", "-c", "1", "-w", "2", "192.0.2.2"])) != nil
                    }
                    func set(sysctl: Int, bridge: Int) throws {
                        try DoctorScene.setSysctls(bridgeHost, sysctl, only: ["bridge-nf-call-iptables"])
                        try bridgeHost.ip("link", "set", "br0", "type", "bridge", "nf_call_iptables", "\(bridge)")
                    }
                    try set(sysctl: 0, bridge: 0)
                    #expect(reaches(), "both off: bridged frames bypass iptables")
                    try set(sysctl: 1, bridge: 0)
                    #expect(!reaches(), "the sysctl at 1 filters although the bridge's option is 0")
                    try set(sysctl: 0, bridge: 1)
                    #expect(!reaches(), "the bridge's option at 1 filters although the sysctl is 0")
                }
            }
        }
    }

    @Test func leftoverMarkedAccessBridge() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            try scene.ip("link", "add", "br0v5", "type", "bridge")
            try scene.ip("link", "set", "br0v5", "alias", "vlanwire")
            let report = try DoctorScene.report(scene, files: try TemporaryDirectory())
            let finding = try #require(report.findings.first { $0.check == .unusedLink })
            #expect(finding.severity == .warning)
            #expect(finding.links == ["br0v5"])
            #expect(finding.fix == "ip netns exec \(scene.name) ip link del br0v5")
        }
    }

    @Test func tapInAnotherBridgeThanItsPolicySays() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            // Access VLAN 5 belongs in br0v5; libvirt put the tap in br0 and no hook moved it.
            let report = try DoctorScene.report(scene, files: try TemporaryDirectory(), xml: DoctorScene.guestXML(metadata: "<vw:vlan tags='5'/>"))
            let drift = try #require(report.findings.first { $0.check == .tapBridgeDrift })
            #expect(drift.severity == .error)
            #expect(drift.guest == "t1")
            #expect(drift.links == ["vnet0", "br0", "br0v5"])
            if Host.capabilities?.vlan8021Q == false {
                #expect(report.findings.contains { $0.check == .kernelCapability && $0.message.hasPrefix("access VLANs 5 on classic uplink up0") })
            }
        }
    }

    @Test(.enabled(if: Host.capabilities?.bridgeVLANFiltering == false, "this kernel has bridge VLAN filtering; the finding needs one without"))
    func vlanAwareConfigOnAKernelWithoutFiltering() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            let config = DoctorScene.config.replacingOccurrences(of: "classic", with: "vlan-aware")
            let report = try DoctorScene.report(scene, files: try TemporaryDirectory(), config: config, xml: nil)
            let finding = try #require(report.findings.first { $0.check == .kernelCapability })
            #expect(finding.severity == .error)
            #expect(finding.message.contains("lacks bridge VLAN filtering"))
        }
    }

    @Test func traceFollowsTheFramesThroughTheNamespace() throws {
        try withScene { scene in
            try DoctorScene.build(scene)
            let files = try TemporaryDirectory()
            let arguments = [
                "--netns", scene.name, "--config", try files.write("c.toml", DoctorScene.config),
                "--xml", try files.write("t1.xml", DoctorScene.guestXML()), "--vlan", "5",
            ]
            _ = try settledSnapshot(try scene.handle())
            let trace = try TraceCommand.parse(arguments).output()
            let flow = try #require(trace.nics.first?.flows.first)
            #expect(flow.inbound.hops.map(\.link) == ["up0", "br0", "vnet0", "guest"])
            #expect(flow.inbound.droppedAt == nil)
            #expect(flow.inbound.hops.first?.capture == "ip netns exec \(scene.name) tcpdump -i up0 -e -n vlan 5")
            try scene.ip("link", "set", "vnet0", "down")
            let after = try #require(try TraceCommand.parse(arguments).output().nics.first?.flows.first)
            #expect(after.inbound.droppedAt == "vnet0")
            #expect(after.outbound.droppedAt == "vnet0")
        }
    }
}

/// The same commands without root: the kernel's state from a JSON file.
@Suite("vlanwire doctor and trace from files")
struct DoctorFileTests {
    static let observed = ObservedState(
        complete: true,
        links: [
            ObservedLink(index: 2, name: "up0", kind: "veth", master: "br0", port: BridgePortInfo()),
            ObservedLink(index: 3, name: "br0", kind: "bridge", bridge: BridgeInfo()),
            ObservedLink(index: 4, name: "up0.5", kind: "vlan", vlan: VLANLinkInfo(id: try! VLANID(5), parent: "up0")),
            ObservedLink(
                index: 5, name: "vnet0", kind: "tun", master: "br0", mac: try! MACAddress(parsing: "fe:54:00:00:00:01"), port: BridgePortInfo()),
        ], capabilities: KernelCapabilities(vlan8021Q: true, bridgeVLANFiltering: true))

    @Test func doctorReadsObservedStateAndExitsOneOnErrors() throws {
        let files = try TemporaryDirectory()
        let arguments = [
            "--observed", try files.write("kernel.json", JSON.encode(Self.observed)), "--no-libvirt",
            "--config", try files.write("c.toml", DoctorScene.config), "--xml", try files.write("t1.xml", DoctorScene.guestXML()),
        ]
        let report = try DoctorCommand.parse(arguments + ["--json"]).report()
        #expect(report.findings.map(\.check) == [.vlanLegOnBridgePort, .guests])
        #expect(throws: ExitCode.failure) { try DoctorCommand.parse(arguments).run() }
    }

    @Test func unreadableDomainFileIsAFindingNotAStop() throws {
        let files = try TemporaryDirectory()
        let report = try DoctorCommand.parse([
            "--observed", try files.write("kernel.json", JSON.encode(Self.observed)), "--no-libvirt",
            "--config", try files.write("c.toml", DoctorScene.config),
            "--xml", try files.write("bad.xml", DoctorScene.guestXML(metadata: "<vw:vlan tags='4095'/>")),
        ]).report()
        #expect(report.findings.contains { $0.check == .guestUnreadable && $0.guest == "t1" && $0.message.contains("4095") })
    }

    @Test func traceNeedsAGuestOrAFile() {
        #expect(throws: (any Error).self) { try TraceCommand.parse([]) }
        #expect(throws: (any Error).self) { try TraceCommand.parse(["--xml", "x.xml", "--vlan", "4095"]) }
    }

    @Test func traceRefusesAFileOfAnotherGuest() throws {
        let files = try TemporaryDirectory()
        let command = try TraceCommand.parse([
            "other", "--xml", try files.write("t1.xml", DoctorScene.guestXML()),
            "--observed", try files.write("kernel.json", JSON.encode(Self.observed)),
        ])
        #expect(throws: ValidationError.self) { try command.output() }
    }

    @Test func traceShowsTheStolenVLAN() throws {
        let files = try TemporaryDirectory()
        let trace = try TraceCommand.parse([
            "--xml", try files.write("t1.xml", DoctorScene.guestXML()), "--vlan", "5",
            "--observed", try files.write("kernel.json", JSON.encode(Self.observed)),
            "--config", try files.write("c.toml", DoctorScene.config),
        ]).output()
        let flow = try #require(trace.nics.first?.flows.first)
        #expect(flow.inbound.droppedAt == "up0")
        #expect(flow.outbound.droppedAt == nil)
    }
}

/// `vlanwire trace --xml GUEST.xml --observed KERNEL.json --config` for the seed's scenarios prints
/// exactly the goldens the library's tests keep (Tests/VLANWireTests/Golden/trace-*.txt, with the
/// kernel state in observed-*.json).
@Suite("vlanwire trace goldens through the command")
struct TraceCommandGoldenTests {

    @Test(arguments: ["access-mode", "trunk-mode", "mixed", "vlan-aware"])
    func matchesGolden(_ example: String) throws {
        let directory = Repository.root + "/Examples/" + example
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".xml") }.sorted()
        let text = try files.map { file in
            try TraceCommand.parse([
                "--xml", directory + "/" + file, "--config", directory + "/vlanwire.toml",
                "--observed", Repository.root + "/Tests/VLANWireTests/Golden/observed-\(example).json",
            ]).output().text
        }.joined(separator: "\n")
        #expect(text == (try String(contentsOfFile: Repository.root + "/Tests/VLANWireTests/Golden/trace-\(example).txt", encoding: .utf8)))
    }

    /// `--format dot` prints the picture GraphTests keeps (Golden/trace-*.dot).
    @Test(arguments: ["access-mode", "mixed"])
    func drawsTheGoldenPicture(_ example: String) throws {
        let directory = Repository.root + "/Examples/" + example
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".xml") }.sorted()
        let dot = try files.map { file in
            try TraceCommand.parse([
                "--xml", directory + "/" + file, "--config", directory + "/vlanwire.toml", "--format", "dot",
                "--observed", Repository.root + "/Tests/VLANWireTests/Golden/observed-\(example).json",
            ]).rendered()
        }.joined()
        #expect(dot == (try String(contentsOfFile: Repository.root + "/Tests/VLANWireTests/Golden/trace-\(example).dot", encoding: .utf8)))
        #expect(throws: ValidationError.self) {
            try TraceCommand.parse(["--xml", directory + "/" + files[0], "--json", "--format", "dot"]).rendered()
        }
    }
}
