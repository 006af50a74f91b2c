import Testing
import VLANWireTestSupport

@testable import VLANWire
@testable import VLANWireReports

#if canImport(Glibc)
    import Glibc
#endif

/// `vlanwire trace` for the seed's scenarios (Examples/), wired by the kernel model, compared with
/// Tests/VLANWireTests/Golden/trace-*.txt. Regenerate with VLANWIRE_UPDATE_GOLDEN=1 after an
/// intended change, and review the diff.
@Suite struct GoldenTraceTests {
    static func compare(_ text: String, golden name: String) throws {
        let path = "Tests/VLANWireTests/Golden/trace-\(name).txt"
        if getenv("VLANWIRE_UPDATE_GOLDEN") != nil {
            let file = fopen(Repository.path(path), "w")!
            fputs(text, file)
            fclose(file)
        }
        #expect(text == (try Repository.text(path)))
    }

    /// Also keeps the wired kernel state as `Golden/observed-EXAMPLE.json`: the CLI's own golden
    /// test (`vlanwire trace --xml --observed`, in VLANWireNetlinkTests) reads it.
    @Test(arguments: ["access-mode", "trunk-mode", "mixed", "vlan-aware"])
    func runningGuests(_ example: String) throws {
        let wired = try WiredExample(example)
        let text = try wired.guests.map { try wired.tracer().trace($0).text }.joined(separator: "\n")
        try Self.compare(text, golden: example)
        let observedPath = "Tests/VLANWireTests/Golden/observed-\(example).json"
        if getenv("VLANWIRE_UPDATE_GOLDEN") != nil {
            let file = fopen(Repository.path(observedPath), "w")!
            fputs(JSON.encode(wired.observed) + "\n", file)
            fclose(file)
        }
        #expect(try JSON.decode(ObservedState.self, from: Repository.read(observedPath), what: observedPath) == wired.observed)
    }

    /// `trace --xml` for guests that are not running: the path vlanwire wires at start.
    @Test func guestsNotRunning() throws {
        let wired = try WiredExample("mixed", running: false)
        let text = try wired.guests.map { try wired.tracer().trace($0).text }.joined(separator: "\n")
        try Self.compare(text, golden: "mixed-not-running")
    }

    /// The seed's trouble: mixed layout plus eth0.10 on the uplink.
    @Test func seedTrouble() throws {
        var wired = try WiredExample("mixed")
        wired.addLeg("eth0.10", parent: "eth0", vid: 10)
        let tracer = wired.tracer()
        let text = try tracer.trace(wired.guest("router1"), vlan: vid(10)).text + "\n" + tracer.trace(wired.guest("office1")).text
        try Self.compare(text, golden: "seed-trouble")
    }
}

@Suite struct TraceTests {
    @Test func legOnTheUplinkDropsTrunkFramesInboundOnly() throws {
        var wired = try WiredExample("trunk-mode")
        wired.addLeg("eth0.5", parent: "eth0", vid: 5)
        let flow = try #require(try wired.tracer().trace(wired.guest("router1"), vlan: vid(5)).nics.first?.flows.first)
        #expect(flow.inbound.droppedAt == "eth0")
        #expect(flow.inbound.hops.map(\.link) == ["eth0"])
        #expect(flow.inbound.hops[0].drop?.hasPrefix("eth0.5 (VLAN 5 leg on eth0) takes the frame before br0 sees it") == true)
        #expect(flow.outbound.droppedAt == nil)
        #expect(flow.outbound.hops.map(\.link) == ["guest", "vnet2", "br0", "eth0"])
        #expect(flow.outbound.hops.map(\.frame) == ["tagged 5", "tagged 5", "tagged 5", "tagged 5"])
        // VLAN 1 is not affected.
        let other = try #require(try wired.tracer().trace(wired.guest("router1"), vlan: vid(1)).nics.first?.flows.first)
        #expect(other.inbound.droppedAt == nil)
    }

    @Test func classicBridgeForwardsVLANsOutsideThePolicy() throws {
        let wired = try WiredExample("trunk-mode")
        let nic = try #require(try wired.tracer().trace(wired.guest("router1"), vlan: vid(8)).nics.first)
        #expect(nic.flows.first?.inbound.droppedAt == nil)
        #expect(nic.flows.first?.inbound.hops.last?.frame == "tagged 8")
        #expect(nic.notes.contains { $0.hasPrefix("br0 has no vlan_filtering: it forwards every VLAN eth0 carries to vnet2") })
    }

    /// vlanwire refuses trunk:1,5 on a classic bridge carrying 1-4094; trace still shows what the
    /// kernel does with it: every VLAN reaches the guest.
    @Test func refusedTrunkIsTracedAsTheKernelForwardsIt() throws {
        let wired = try WiredExample("trunk-mode")
        let config = try HostConfig(toml: "[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nvlans = \"1-4094\"", path: "t.toml")
        let tracer = FrameTracer(observed: wired.observed, topology: Topology.resolve(config: config, observed: wired.observed))
        let nic = try #require(try tracer.trace(wired.guest("router1"), vlan: vid(300)).nics.first)
        #expect(nic.policy == "trunk:1,5")
        #expect(nic.policySource == "requested, refused")
        #expect(nic.notes.first?.hasPrefix("vlanwire refuses this NIC: trunk:1,5 on classic bridge br0 cannot be enforced") == true)
        #expect(nic.flows.first?.inbound.summary == "delivered: the guest sees it tagged 300 (it terminates VLAN 300 itself, e.g. eth0.300)")
    }

    @Test func accessPathTagsOnlyOnTheWire() throws {
        let wired = try WiredExample("mixed")
        let flow = try #require(try wired.tracer().trace(wired.guest("app1")).nics.first?.flows.first)
        #expect(flow.vlan == "5")
        #expect(flow.inbound.hops.map(\.link) == ["eth0", "br0", "br0.5", "br0v5", "vnet3", "guest"])
        #expect(flow.inbound.hops.map(\.frame) == ["tagged 5", "tagged 5", "untagged", "untagged", "untagged", "untagged"])
        #expect(
            flow.inbound.hops.map(\.capture) == [
                "tcpdump -i eth0 -e -n vlan 5", "tcpdump -i br0 -e -n vlan 5", "tcpdump -i br0.5 -e -n",
                "tcpdump -i br0v5 -e -n", "tcpdump -i vnet3 -e -n", nil,
            ])
        #expect(flow.outbound.hops.map(\.link) == ["guest", "vnet3", "br0v5", "br0.5", "br0", "eth0"])
        #expect(flow.outbound.summary == "delivered: leaves eth0 tagged 5")
    }

    @Test func otherVLANsNeverReachAnAccessPort() throws {
        let wired = try WiredExample("mixed")
        let flow = try #require(try wired.tracer().trace(wired.guest("app1"), vlan: vid(10)).nics.first?.flows.first)
        #expect(flow.inbound.droppedAt == "br0")
        #expect(flow.inbound.hops.last?.drop == "br0.5 takes only VLAN 5; br0 forwards this frame to its other ports")
    }

    @Test func vlanAwarePortMembership() throws {
        let wired = try WiredExample("vlan-aware")
        let tracer = wired.tracer()
        let app = try #require(try tracer.trace(wired.guest("app1")).nics.first)
        #expect(app.flows.map(\.vlan) == ["5"])
        #expect(app.flows[0].inbound.summary == "delivered: the guest sees it untagged")
        #expect(app.flows[0].outbound.summary == "delivered: leaves eth0 tagged 5")
        let stranger = try #require(try tracer.trace(wired.guest("app1"), vlan: vid(7)).nics.first?.flows.first)
        #expect(stranger.inbound.droppedAt == "br0")
        #expect(stranger.inbound.hops.last?.drop == "vnet6 is not a member of VLAN 7 on br0: not forwarded to it")
        #expect(stranger.outbound.droppedAt == "vnet6")
        // The native VLAN is untagged on the wire and at the guest.
        let native = try #require(try tracer.trace(wired.guest("router1"), mac: mac("52:54:00:00:03:02"), vlan: vid(1)).nics.first?.flows.first)
        #expect(native.inbound.hops.first?.frame == "untagged (native VLAN)")
        #expect(native.inbound.hops.first?.capture == "tcpdump -i eth0 -e -n not vlan")
        #expect(native.inbound.hops.last?.frame == "untagged (native VLAN)")
        #expect(native.outbound.summary == "delivered: leaves eth0 untagged")
    }

    @Test func downLinkAndNotForwardingPortDrop() throws {
        var wired = try WiredExample("mixed")
        wired.change("br0.10") {
            $0.adminUp = false
            $0.operState = "down"
        }
        let office = try #require(try wired.tracer().trace(wired.guest("office1")).nics.first?.flows.first)
        #expect(office.inbound.droppedAt == "br0.10")
        #expect(office.outbound.droppedAt == "br0.10")
        wired.change("vnet5") { $0.port?.state = "blocking" }
        let router = try #require(try wired.tracer().trace(wired.guest("router1"), vlan: vid(5)).nics.first?.flows.first)
        #expect(router.inbound.droppedAt == "vnet5")
        #expect(router.inbound.hops.last?.drop == "port vnet5 of br0 is blocking, not forwarding")
    }

    @Test func captureCommandsRunInTheNamespace() throws {
        let wired = try WiredExample("trunk-mode")
        var tracer = wired.tracer()
        tracer.commandPrefix = "ip netns exec lab "
        let flow = try #require(try tracer.trace(wired.guest("router1"), vlan: vid(5)).nics.first?.flows.first)
        #expect(flow.inbound.hops.first?.capture == "ip netns exec lab tcpdump -i eth0 -e -n vlan 5")
    }

    @Test func unknownMACIsRefused() throws {
        let wired = try WiredExample("trunk-mode")
        #expect(throws: Refusal.self) { try wired.tracer().trace(wired.guest("router1"), mac: mac("52:54:00:99:99:99")) }
    }

    @Test func interfacesVLANWireLeavesAloneAreNotTraced() throws {
        let wired = try WiredExample("trunk-mode")
        let guest = try domain(
            "<domain><name>d</name><devices><interface type='direct'><mac address='52:54:00:00:09:03'/><source dev='eth1' mode='bridge'/></interface></devices></domain>"
        )
        let nic = try #require(try wired.tracer().trace(guest).nics.first)
        #expect(nic.flows.isEmpty)
        #expect(nic.notes == ["vlanwire leaves this NIC alone (type 'direct' is not a Linux bridge port)"])
    }
}
