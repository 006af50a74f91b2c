import Testing
import VLANWireTestSupport

@testable import VLANWire
@testable import VLANWireReports

#if canImport(Glibc)
    import Glibc
#endif

/// `status --format dot` and `trace --format dot` for the seed's scenarios (Examples/, wired by the
/// kernel model), compared with Tests/VLANWireTests/Golden/*.dot. Regenerate with
/// VLANWIRE_UPDATE_GOLDEN=1 after an intended change, review the diff, and re-render the README's
/// picture (scripts/demo does).
@Suite struct GraphTests {
    static func compare(_ text: String, golden name: String) throws {
        let path = "Tests/VLANWireTests/Golden/\(name).dot"
        if getenv("VLANWIRE_UPDATE_GOLDEN") != nil {
            let file = fopen(Repository.path(path), "w")!
            fputs(text, file)
            fclose(file)
        }
        #expect(text == (try Repository.text(path)))
    }

    static func host(_ wired: WiredExample) -> String {
        let guests = wired.guests.map { GuestStatus.compare($0, topology: wired.topology, observed: wired.observed) }
        return HostGraph.dot(observed: wired.observed, libvirt: LibvirtView(state: .connected, guests: guests))
    }

    @Test(arguments: ["access-mode", "trunk-mode", "mixed", "vlan-aware"])
    func seedScenarios(_ example: String) throws {
        let wired = try WiredExample(example)
        try Self.compare(Self.host(wired), golden: "status-\(example)")
        let traces = try wired.guests.map { try wired.tracer().trace($0).dot }.joined()
        try Self.compare(traces, golden: "trace-\(example)")
    }

    /// The seed's trouble drawn: eth0.10 on the uplink, the drop in red with its reason.
    @Test func seedTroubleIsRed() throws {
        var wired = try WiredExample("mixed")
        wired.addLeg("eth0.10", parent: "eth0", vid: 10)
        let dot = try wired.tracer().trace(wired.guest("office1")).dot
        try Self.compare(dot, golden: "trace-seed-trouble")
        let host = Self.host(wired)
        try Self.compare(host, golden: "status-seed-trouble")
        let leg = try #require(host.split(separator: "\n").first { $0.hasPrefix("  \"eth0\" -> \"eth0.10\"") })
        #expect(leg.contains("takes VLAN 10 before br0 sees it") && leg.contains("color=red"), "\(leg)")
        #expect(dot.contains("VLAN 10 inbound: DROPPED\\neth0.10 (VLAN 10 leg on eth0) takes the frame before br0 sees it"))
        #expect(dot.contains("color=red"))
    }

    /// Drift is red on the guest's edge, with the mismatch; a down link is red with its reason.
    @Test func driftAndDownAreRed() throws {
        var wired = try WiredExample("vlan-aware")
        let app = wired.guest("app1")
        let tap = try #require(app.interfaces.first?.targetDevice)
        let index = try #require(wired.observed.links.firstIndex { $0.name == tap })
        wired.observed.links[index].port?.vlans = PortVLANs(members: vset("7"), untagged: vset("7"), pvid: vid(7))
        let uplink = try #require(wired.observed.links.firstIndex { $0.name == "eth0" })
        wired.observed.links[uplink].adminUp = false
        let dot = Self.host(wired)
        let edge = try #require(dot.split(separator: "\n").first { $0.contains("\"\(tap)\" -> \"guest app1\"") })
        #expect(edge.contains("color=red") && edge.contains("VLANs"), "\(edge)")
        let node = try #require(dot.split(separator: "\n").first { $0.hasPrefix("  \"eth0\" [") })
        #expect(node.contains("down (admin)") && node.contains("color=red"), "\(node)")
    }

    /// Graphviz itself draws every golden picture (scripts/install-deps installs it): the output is
    /// DOT that `dot` accepts, and the SVG is not empty.
    @Test(.enabled(if: GraphTests.graphviz != nil, "needs Graphviz's dot (apt-get install graphviz; scripts/install-deps does)"))
    func graphvizRendersEveryGolden() throws {
        let goldens = Repository.files(in: "Tests/VLANWireTests/Golden", suffix: ".dot")
        #expect(goldens.count == 10)
        for golden in goldens {
            let run = try Subprocess.run(GraphTests.graphviz!, ["-Tsvg", Repository.path(golden)], timeout: .seconds(30))
            #expect(run.status == 0 && run.stderr.isEmpty, "\(golden): \(run.stderr)")
            #expect(run.stdout.contains("<svg") && run.stdout.contains("</svg>"), "\(golden)")
        }
    }

    static let graphviz: String? = ["/usr/bin/dot", "/usr/local/bin/dot"].first { access($0, X_OK) == 0 }

    /// A link with libvirt's tap MAC is a guest's side even when it is not a tap (the lab's stand-in
    /// guests are veths): drawn from the bridge to it, never as an uplink.
    @Test func aStandInGuestIsDrawnAsATap() {
        let observed = ObservedState(
            complete: true,
            links: [
                ObservedLink(index: 1, name: "br0", kind: "bridge", bridge: BridgeInfo(vlanFiltering: false, stpEnabled: false, forwardDelay: 0)),
                ObservedLink(index: 2, name: "eth0", kind: "veth", master: "br0", mac: mac("52:54:00:aa:00:01"), port: BridgePortInfo()),
                ObservedLink(index: 3, name: "vnet0", kind: "veth", master: "br0", mac: mac("fe:54:00:00:00:01"), port: BridgePortInfo()),
            ])
        let dot = HostGraph.dot(observed: observed, libvirt: LibvirtView(state: .notAsked))
        #expect(dot.contains(#""br0" -> "vnet0""#) && dot.contains(#""eth0" -> "br0""#), "\(dot)")
        #expect(dot.contains(#"vnet0\ntap (veth with libvirt's tap MAC)"#) && dot.contains(#"eth0\nveth, uplink"#), "\(dot)")
    }

    /// Names come from anyone who may define a domain: quoted and escaped, never DOT syntax.
    @Test func hostileNamesStayInsideTheirStrings() {
        #expect(DotGraph.quoted("a\"; x -> y [label=\"") == #""a\"; x -> y [label=\"""#)
        #expect(DotGraph.quoted("back\\slash\nline\u{07}") == #""back\\slash\nline""#)
        var graph = DotGraph(name: "g\"}")
        graph.node("n\"}", label: "l", shape: "box")
        #expect(graph.text.hasPrefix(#"digraph "g\"}" {"#))
        #expect(graph.text.contains(#""n\"}" [label="l""#))
    }
}
