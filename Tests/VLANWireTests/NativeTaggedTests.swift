import Testing
import VLANWireTestSupport

@testable import VLANWire
@testable import VLANWireReports

// Issue 17, part 1: a trunk whose native VLAN leaves the port TAGGED (the bridge gives the port the
// native VLAN as PVID without the untagged flag): untagged frames from the guest still join it.

private func config(_ toml: String) -> HostConfig { try! HostConfig(toml: toml, path: "test.toml") }

private let vlanAwareBR0 = config(
    """
    [[uplink]]
    interface = "eth0"
    bridge = "br0"
    mode = "vlan-aware"
    vlans = "1-100"
    native-vlan = 1
    """)

private let classicBR0 = config(
    """
    [[uplink]]
    interface = "eth0"
    bridge = "br0"
    mode = "classic"
    vlans = "1,10"
    native-vlan = 1
    """)

private let router = "52:54:00:00:00:02"

private func routerXML(_ vlan: String) -> String {
    domainXML(name: "router1", nics: [(router, "br0", "vnet1")], metadata: "<vw:interface mac='\(router)'>\(vlan)</vw:interface>")
}

private let nativeTagged = "<vw:vlan trunk='yes' tags='1,10' native='1' native-mode='tagged'/>"
private let expected = PortPolicy.trunk(tagged: vset("10"), native: vid(1), nativeMode: .tagged)

@Suite struct NativeTaggedParsingTests {
    @Test func policyValue() throws {
        #expect(expected.isNativeTagged)
        #expect(expected.untaggedVLAN == vid(1), "untagged frames from the guest join VLAN 1")
        #expect(expected.egressUntaggedVLAN == nil, "nothing leaves the port untagged")
        #expect(expected.taggedVLANs == vset("1,10"))
        #expect(expected.memberVLANs == vset("1,10"))
        #expect(PortVLANs(policy: expected) == PortVLANs(members: vset("1,10"), untagged: .empty, pvid: vid(1)))
        let untagged = PortPolicy.trunk(tagged: vset("10"), native: vid(1))
        #expect(!untagged.isNativeTagged && untagged.egressUntaggedVLAN == vid(1) && untagged.taggedVLANs == vset("10"))
        #expect(PortVLANs(policy: untagged) == PortVLANs(members: vset("1,10"), untagged: vset("1"), pvid: vid(1)))
        #expect(expected != untagged)
    }

    @Test func configForm() throws {
        #expect(try PortPolicy(parsing: "trunk:1,10 native-tagged:1") == expected)
        #expect(expected.description == "trunk:1,10 native-tagged:1")
        #expect(try PortPolicy(parsing: expected.description) == expected)
        #expect(try PortPolicy(parsing: "trunk:1,10 native:1").isNativeTagged == false)
    }

    @Test(arguments: [
        ("trunk:10 native-tagged:1", "native-tagged VLAN 1 is not in the trunk's VLANs 10 (list it: trunk:1,10)"),
        ("trunk:1,10 native-tagged:1 native:1", "only one"),
        ("trunk:1,10 native-tagged:0", "reserved"),
        ("trunk:1,10 native-tagged:x", "not a decimal"),
        ("access:1 native-tagged:1", "expected"),
    ])
    func configFormRefusals(_ text: String, _ cause: String) {
        do {
            _ = try PortPolicy(parsing: text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.contains(cause), "\(error)")
        }
    }

    @Test func metadataAttribute() throws {
        #expect(try domain(routerXML(nativeTagged)).metadata[mac(router)] == expected)
        #expect(
            try domain(routerXML("<vw:vlan trunk='yes' tags='1,10' native='1' native-mode='untagged'/>")).metadata[mac(router)]
                == .trunk(tagged: vset("10"), native: vid(1)))
    }

    @Test func libvirtStyleTag() throws {
        let xml = routerXML("<vw:vlan trunk='yes'><vw:tag id='1' nativeMode='tagged'/><vw:tag id='10'/></vw:vlan>")
        #expect(try domain(xml).metadata[mac(router)] == expected)
        // Directly under <vw:interface>, as libvirt's <vlan> children.
        let bare = routerXML("<vw:tag id='10'/><vw:tag id='1' nativeMode='tagged'/>")
        #expect(try domain(bare).metadata[mac(router)] == expected)
    }

    @Test func configPolicyAndPortgroup() throws {
        let config = try HostConfig(
            toml: """
                [[uplink]]
                interface = "eth0"
                bridge = "br0"
                mode = "vlan-aware"
                vlans = "1-20"
                default-policy = "trunk:1,10 native-tagged:1"
                [[network]]
                name = "lan"
                uplink = "eth0"
                portgroups = { router = "trunk:1,10 native-tagged:1" }
                """, path: "test.toml")
        #expect(config.uplinks[0].defaultPolicy == expected)
        #expect(config.networks[0].portgroups["router"] == expected)
        do {
            _ = try HostConfig(
                toml: "[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nmode = \"vlan-aware\"\ndefault-policy = \"trunk:10 native-tagged:1\"",
                path: "/etc/vlanwire/t.toml")
            Issue.record("accepted")
        } catch {
            #expect(error.key == "uplink[1].default-policy")
            #expect(error.description.contains("not in the trunk's VLANs"), "\(error)")
        }
    }

    /// Bad input: one line naming guest, MAC and cause (and the fix).
    @Test(arguments: [
        ("<vw:vlan trunk='yes' tags='1,10' native='1' native-mode='sometimes'/>", "native-mode=\"sometimes\" must be untagged or tagged"),
        ("<vw:vlan trunk='yes' tags='1,10' native-mode='tagged'/>", "native-mode=\"tagged\" without native=\"N\""),
        ("<vw:vlan trunk='yes' tags='10' native='1' native-mode='tagged'/>", "native VLAN 1 is not in tags=\"10\""),
        ("<vw:vlan trunk='no' tags='1' native='1' native-mode='tagged'/>", "trunk=\"no\" with a tagged native VLAN"),
        ("<vw:vlan><vw:tag id='1' nativeMode='garbage'/></vw:vlan>", "nativeMode=\"garbage\" on <vw:tag id=\"1\"> must be untagged or tagged"),
        (
            "<vw:vlan trunk='yes' tags='1,10' native='1' native-mode='untagged'><vw:tag id='1' nativeMode='tagged'/></vw:vlan>",
            "native VLAN 1 is both untagged and tagged"
        ),
    ])
    func badMetadata(_ vlan: String, _ cause: String) {
        do {
            _ = try domain(routerXML(vlan))
            Issue.record("accepted: \(vlan)")
        } catch {
            let line = error.description
            #expect(line.hasPrefix("guest 'router1', NIC \(router): "), "\(line)")
            #expect(line.contains(cause), "\(line)")
            #expect(line.contains("fix: "), "\(line)")
            #expect(!line.contains("\n"), "\(line)")
        }
    }

    @Test func stateRecordsRoundTripAndOldFilesAreUntagged() throws {
        let state = VLANWireState(
            createdLinks: [],
            guests: [
                GuestRecord(
                    name: "router1", uuid: nil,
                    nics: [
                        NICRecord(
                            mac: mac(router), policy: expected, bridge: link("br0"), tap: link("vnet1"), tapIndex: 41,
                            portVLANs: PortVLANs(policy: expected))
                    ])
            ])
        let record = try #require(state.guests.first)
        let bytes = record.stateJSON()
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""policy":"trunk:1,10 native-tagged:1""#))
        #expect(String(decoding: bytes, as: UTF8.self) == JSON.encode(record, pretty: false))
        #expect(try GuestRecord(stateJSON: bytes) == record)
        #expect(try JSON.decode(GuestRecord.self, from: bytes, what: "t") == record)
        // A state file written before native-tagged existed: its native VLAN is untagged.
        let old =
            #"{"version":1,"usersUnknown":false,"createdLinks":[],"guests":[{"name":"router1","uuid":null,"nics":[{"mac":"52:54:00:00:00:02","uses":[],"#
            + #""policy":"trunk:1,10 native:1","bridge":"br0","tap":"vnet1","portVLANs":{"members":"1,10","untagged":"1","pvid":1}}]}]}"#
        let policy = try VLANWireState(stateJSON: Array(old.utf8)).guests.first?.nics.first?.policy
        #expect(policy == .trunk(tagged: vset("10"), native: vid(1), nativeMode: .untagged))
    }
}

@Suite struct NativeTaggedPlannerTests {
    private func plan(_ xml: String, _ op: HookOperation = .start, config: HostConfig, observed: ObservedState) throws(Refusal) -> Plan {
        try Planner(topology: Topology.resolve(config: config, observed: observed), observed: observed).plan(try domain(xml), operation: op)
    }

    private var joined: ObservedState {
        host(
            vlanFiltering: true, uplinkVLANs: PortVLANs(members: vset("1-100"), untagged: vset("1"), pvid: vid(1)),
            taps: [("vnet1", router, "br0")])
    }

    /// A fresh tap has the kernel's VLAN 1 PVID untagged: the plan keeps VLAN 1 as PVID and drops
    /// the untagged flag (re-adding a member sets its flags), and adds VLAN 10 tagged.
    @Test func freshPortGetsPVIDWithoutUntagged() throws {
        let result = try plan(routerXML(nativeTagged), config: vlanAwareBR0, observed: joined)
        #expect(result.actions == [.addPortVLANs(port: link("vnet1"), vlans: PortVLANs(members: vset("1,10"), pvid: vid(1)))])
        #expect(result.actions.map(\.description) == ["bridge vlan add dev vnet1 vid 1 pvid; bridge vlan add dev vnet1 vid 10"])
        #expect(result.record?.nics.first?.portVLANs == PortVLANs(members: vset("1,10"), pvid: vid(1)))
    }

    @Test func switchingModesChangesOnlyTheFlag() throws {
        var observed = joined
        observed.change("vnet1") { $0.port?.vlans = PortVLANs(members: vset("1,10"), untagged: vset("1"), pvid: vid(1)) }
        let toTagged = try plan(routerXML(nativeTagged), config: vlanAwareBR0, observed: observed)
        #expect(toTagged.actions.map(\.description) == ["bridge vlan add dev vnet1 vid 1 pvid"])

        observed.change("vnet1") { $0.port?.vlans = PortVLANs(members: vset("1,10"), pvid: vid(1)) }
        #expect(try plan(routerXML(nativeTagged), config: vlanAwareBR0, observed: observed).actions.isEmpty, "idempotent")
        let toUntagged = try plan(routerXML("<vw:vlan trunk='yes' tags='1,10' native='1'/>"), config: vlanAwareBR0, observed: observed)
        #expect(toUntagged.actions.map(\.description) == ["bridge vlan add dev vnet1 vid 1 pvid untagged"])
    }

    @Test func theKernelModelEndsAsThePolicySays() throws {
        var model = KernelModel(state: joined)
        try model.apply(try plan(routerXML(nativeTagged), config: vlanAwareBR0, observed: model.state).actions)
        #expect(model.state.link(named: "vnet1")?.port?.vlans == PortVLANs(members: vset("1,10"), pvid: vid(1)))
    }

    /// A network's portgroup gives the policy: the NIC on it gets VLAN 1 as PVID without untagged.
    @Test func networkPortgroup() throws {
        let withNetwork = config(
            """
            [[uplink]]
            interface = "eth0"
            bridge = "br0"
            mode = "vlan-aware"
            vlans = "1-100"
            [[network]]
            name = "lan"
            uplink = "eth0"
            portgroups = { edge = "trunk:1,10 native-tagged:1" }
            """)
        let xml =
            "<domain><name>n1</name><devices><interface type='bridge'><mac address='\(router)'/><source bridge='br0' network='lan' portgroup='edge'/><target dev='vnet1'/></interface></devices></domain>"
        let result = try plan(xml, config: withNetwork, observed: joined)
        #expect(result.nics[0].wiring?.policy == expected)
        #expect(result.nics[0].wiring?.source == .portgroup(network: "lan", portgroup: "edge"))
        #expect(result.actions.map(\.description) == ["bridge vlan add dev vnet1 vid 1 pvid; bridge vlan add dev vnet1 vid 10"])
    }

    /// `vlanwire status`: the policy and the port VLANs it expects, and the mismatch in words.
    @Test func statusShowsThePolicyAndWhatItExpects() throws {
        var observed = joined
        observed.change("vnet1") { $0.port?.vlans = PortVLANs(members: vset("1,10"), untagged: vset("1"), pvid: vid(1)) }
        let status = GuestStatus.compare(
            try domain(routerXML(nativeTagged)), topology: Topology.resolve(config: vlanAwareBR0, observed: observed), observed: observed)
        let nic = try #require(status.nics.first)
        #expect(nic.policy == expected && nic.policy?.description == "trunk:1,10 native-tagged:1")
        #expect(nic.expectedVLANs?.description == "pvid 1, tagged 1,10")
        #expect(nic.kernelVLANs?.description == "pvid 1, untagged 1, tagged 10")
        #expect(nic.mismatches.first?.message.hasPrefix("native VLAN 1 leaves untagged, the policy says tagged (native-tagged)") == true)
    }

    /// On a classic bridge the native VLAN reaches the guest as the wire carries it: refused, with
    /// the fix, like a restricted trunk.
    @Test func classicBridgeCannotEnforceIt() {
        do {
            _ = try plan(routerXML(nativeTagged), .prepare, config: classicBR0, observed: host(taps: [("vnet1", router, "br0")]))
            Issue.record("accepted")
        } catch {
            #expect(error.problems.count == 1)
            let line = error.description
            #expect(line.hasPrefix("guest 'router1', NIC \(router): native-tagged VLAN 1 on classic bridge br0 cannot be enforced"), "\(line)")
            #expect(line.contains("vlan-aware"), "\(line)")
            #expect(line.contains("native:1 (untagged)"), "\(line)")
        }
    }
}

@Suite struct NativeTaggedAuditTests {
    private func audit(_ xml: String, port: PortVLANs) throws -> [Mismatch] {
        var observed = host(
            vlanFiltering: true, uplinkVLANs: PortVLANs(members: vset("1-100"), untagged: vset("1"), pvid: vid(1)),
            taps: [("vnet1", router, "br0")])
        observed.change("vnet1") { $0.port?.vlans = port }
        let topology = Topology.resolve(config: vlanAwareBR0, observed: observed)
        return NICAudit.audit(try domain(xml), topology: topology, observed: observed).flatMap(\.mismatches)
    }

    @Test func nativeUntaggedWherePolicySaysTaggedIsAMismatch() throws {
        let mismatches = try audit(routerXML(nativeTagged), port: PortVLANs(members: vset("1,10"), untagged: vset("1"), pvid: vid(1)))
        #expect(mismatches.map(\.kind) == [.vlansDiffer])
        #expect(
            mismatches.first?.message
                == "native VLAN 1 leaves untagged, the policy says tagged (native-tagged): port VLANs are pvid 1, untagged 1, tagged 10; the policy needs pvid 1, tagged 1,10"
        )
        #expect(mismatches.first?.reconcileFixes == true)
    }

    @Test func nativeTaggedWherePolicySaysUntaggedIsAMismatch() throws {
        let mismatches = try audit(
            routerXML("<vw:vlan trunk='yes' tags='1,10' native='1'/>"), port: PortVLANs(members: vset("1,10"), pvid: vid(1)))
        #expect(mismatches.map(\.kind) == [.vlansDiffer])
        #expect(mismatches.first?.message.hasPrefix("native VLAN 1 leaves tagged, the policy says untagged: ") == true)
    }

    @Test func matchingPortIsFine() throws {
        #expect(try audit(routerXML(nativeTagged), port: PortVLANs(members: vset("1,10"), pvid: vid(1))).isEmpty)
    }

    @Test func doctorNamesTheNativeMode() throws {
        var wired = try WiredExample("vlan-aware")
        // router1's first NIC, made native-tagged in its definition; the kernel still has it untagged.
        let xml = try Repository.text("Examples/vlan-aware/router1.xml").replacing("native='1'/>", with: "native='1' native-mode='tagged'/>")
        let guests = wired.guests.filter { $0.name != "router1" } + [try domain(xml)]
        wired.guests = guests
        let findings = wired.doctor().findings().filter { $0.check == .portVLANDrift }
        #expect(findings.count == 1)
        #expect(findings.first?.message.contains("native VLAN 1 leaves untagged, the policy says tagged (native-tagged)") == true, "\(findings)")
        #expect(findings.first?.fix?.contains("bridge vlan add dev vnet7 vid 1 pvid;") == true, "\(findings)")
    }

    /// The classic example's router made native-tagged: doctor says what the bridge cannot do.
    @Test func doctorOnAClassicBridgeSaysWhatCannotBeEnforced() throws {
        var wired = try WiredExample("mixed")
        let xml = try Repository.text("Examples/mixed/router1.xml").replacing("native='1'/>", with: "native='1' native-mode='tagged'/>")
        wired.guests = wired.guests.filter { $0.name != "router1" } + [try domain(xml)]
        let findings = wired.doctor().findings().filter { $0.check == .trunkOnClassicBridge }
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.first?.severity == .error)
        #expect(findings.first?.message.contains("asks for trunk:1,5,10 native-tagged:1 on classic bridge br0, which cannot enforce it") == true)
        #expect(findings.first?.message.contains("never VLAN 1 tagged") == true)
        #expect(findings.first?.fix?.contains("vlan-aware") == true)
    }
}

@Suite struct NativeTaggedTraceTests {
    /// The vlan-aware example's router1 made native-tagged, wired by the kernel model.
    func wired() throws -> (WiredExample, DomainDescription) {
        var wired = try WiredExample("vlan-aware")
        let xml = try Repository.text("Examples/vlan-aware/router1.xml").replacing("native='1'/>", with: "native='1' native-mode='tagged'/>")
        let guest = try domain(xml)
        var model = KernelModel(state: wired.observed)
        try model.apply(try WiredExample.plan(guest, .start, config: wired.config, observed: model.state).actions)
        wired.observed = model.state
        return (wired, guest)
    }

    @Test func eachHopSaysTheNativeVLANIsTagged() throws {
        let (wired, guest) = try wired()
        #expect(wired.observed.link(named: "vnet7")?.port?.vlans == PortVLANs(members: vset("1,5,10-20"), pvid: vid(1)))
        let nic = try #require(try wired.tracer().trace(guest, mac: mac("52:54:00:00:03:02"), vlan: vid(1)).nics.first)
        #expect(nic.policy == "trunk:1,5,10-20 native-tagged:1")
        let flow = try #require(nic.flows.first)
        #expect(flow.native == "tagged")
        // Untagged on the wire (eth0's native VLAN), tagged at the tap and at the guest.
        #expect(flow.inbound.hops.first?.frame == "untagged (native VLAN)")
        #expect(flow.inbound.hops.last?.frame == "tagged 1 (native VLAN)")
        #expect(flow.inbound.summary.hasPrefix("delivered: the guest sees it tagged 1"))
        #expect(flow.inbound.hops.allSatisfy { $0.frame.hasSuffix("(native VLAN)") })
        #expect(flow.outbound.hops.allSatisfy { $0.frame.hasSuffix("(native VLAN)") })
        #expect(flow.outbound.summary == "delivered: leaves eth0 untagged")
        #expect(nic.notes.contains { $0.hasPrefix("native VLAN 1 is tagged (native-tagged)") })
        let text = GuestTrace(guest: "router1", nics: [nic]).text
        #expect(text.contains("VLAN 1 (native, tagged towards the guest), inbound"), "\(text)")
        // Another VLAN is not the native one.
        let other = try #require(try wired.tracer().trace(guest, mac: mac("52:54:00:00:03:02"), vlan: vid(10)).nics.first?.flows.first)
        #expect(other.native == nil && other.inbound.hops.last?.frame == "tagged 10")
    }

    @Test func untaggedNativeSaysUntagged() throws {
        let wired = try WiredExample("vlan-aware")
        let flow = try #require(try wired.tracer().trace(wired.guest("router1"), mac: mac("52:54:00:00:03:02"), vlan: vid(1)).nics.first?.flows.first)
        #expect(flow.native == "untagged")
        #expect(flow.inbound.hops.last?.frame == "untagged (native VLAN)")
    }
}
