import Testing
import VLANWireTestSupport

@testable import VLANWire
@testable import VLANWireReports

#if canImport(Glibc)
    import Glibc
#endif

private func config(_ toml: String) -> HostConfig { try! HostConfig(toml: toml, path: "test.toml") }

private let classicBR0 = config(
    """
    [[uplink]]
    interface = "eth0"
    bridge = "br0"
    mode = "classic"
    vlans = "1,5,10"
    native-vlan = 1
    """)

private let vlanAwareBR0 = config(
    """
    [[uplink]]
    interface = "eth0"
    bridge = "br0"
    mode = "vlan-aware"
    vlans = "1-4094"
    """)

private func plan(
    _ xml: String, _ op: HookOperation = .start, config: HostConfig?, observed: ObservedState,
    state: VLANWireState = .empty
) throws(Refusal) -> Plan {
    try Planner(topology: Topology.resolve(config: config, observed: observed), observed: observed, state: state)
        .plan(try domain(xml), operation: op)
}

private func commands(_ plan: Plan) -> [String] { plan.actions.map(\.description) }

@Test func onlyStartingOperationsMayRefuseAGuest() {
    // A refusal stops a start; anything after the guest runs must never fail it.
    #expect(Set(HookOperation.allCases.filter(\.mayRefuse)) == [.prepare, .start, .started, .migrate, .restore])
}

@Suite struct ClassicPlannerTests {
    @Test func accessLegHangsOffTheTrunkBridgeNeverTheUplink() throws {
        let xml = domainXML(nics: [("52:54:00:00:00:01", "br0v5", "vnet0")])
        let observed = host(taps: [("vnet0", "52:54:00:00:00:01", "br0")])
        let result = try plan(xml, .prepare, config: classicBR0, observed: observed)
        #expect(result.actions.contains(.createVLANLeg(name: link("br0.5"), parent: link("br0"), vid: vid(5))))
        #expect(!result.actions.contains { if case .createVLANLeg(_, let parent, _) = $0 { parent == link("eth0") } else { false } })
        #expect(result.actions.first == .createBridge(BridgeSpec(name: link("br0v5"))))
    }

    @Test func accessLegHangsOffTheUplinkWhenItIsNotABridgePort() throws {
        let access = config("[[uplink]]\ninterface = \"eth0\"\nvlans = \"1,5\"\naccess-bridge = \"br0{vid}\"")
        let result = try plan(
            domainXML(nics: [("52:54:00:00:00:01", "br05", nil)]), .prepare,
            config: access, observed: host(trunk: nil))
        #expect(
            commands(result) == [
                "ip link add br05 type bridge stp_state 0 forward_delay 0; ip link set br05 alias vlanwire",
                "ip link add link eth0 name eth0.5 type vlan id 5; ip link set eth0.5 alias vlanwire",
                "ip link set eth0.5 master br05", "ip link set br05 up", "ip link set eth0.5 up",
            ])
    }

    @Test func metadataMovesTheTapToItsAccessBridge() throws {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", "vnet0")],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='10'/></vw:interface>")
        let result = try plan(xml, config: classicBR0, observed: host(taps: [("vnet0", "52:54:00:00:00:01", "br0")]))
        #expect(result.actions.last == .enslave(link: link("vnet0"), bridge: link("br0v10")))
        #expect(result.record?.nics.first?.uses == [link("br0v10"), link("br0.10")])
    }

    @Test func restrictedTrunkOnClassicBridgeIsRefusedWithTheFix() {
        let xml = domainXML(
            name: "router1", nics: [("52:54:00:00:00:01", "br0", "vnet0")],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='yes' tags='1,5'/></vw:interface>")
        do {
            _ = try plan(xml, .prepare, config: classicBR0, observed: host())
            Issue.record("accepted")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.description.contains("guest 'router1', NIC 52:54:00:00:00:01"))
            #expect(error.description.contains("cannot be enforced"))
            #expect(error.description.contains("vlan-aware"))
        }
    }

    @Test func trunkCoveringTheUplinkIsFineOnClassic() throws {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", "vnet0")],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='yes' tags='1,5,10' native='1'/></vw:interface>")
        let result = try plan(xml, config: classicBR0, observed: host(taps: [("vnet0", "52:54:00:00:00:01", "br0")]))
        #expect(result.actions.isEmpty)
    }

    @Test func nativeVLANTheUplinkDoesNotDeclareIsRefused() {
        let noNative = config("[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nvlans = \"1,5\"")
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", nil)],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='yes' tags='1,5' native='1'/></vw:interface>")
        #expect(throws: Refusal.self) { try plan(xml, .prepare, config: noNative, observed: host()) }
    }

    @Test func kernelWithout8021QRefusesAtPrepare() {
        let observed = host(capabilities: KernelCapabilities(vlan8021Q: false, bridgeVLANFiltering: false))
        do {
            _ = try plan(domainXML(nics: [("52:54:00:00:00:01", "br0v5", nil)]), .prepare, config: classicBR0, observed: observed)
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("no 802.1Q"))
            #expect(error.description.contains("br0.5"))
        }
    }

    @Test func twoNICsShareOneAccessBridge() throws {
        let xml = domainXML(nics: [("52:54:00:00:00:01", "br0v5", nil), ("52:54:00:00:00:02", "br0v5", nil)])
        let result = try plan(xml, .prepare, config: classicBR0, observed: host())
        #expect(result.actions.filter { if case .createBridge = $0 { true } else { false } }.count == 1)
    }

    @Test func anAdminsLegOnTheUplinkIsUsedButReported() throws {
        let observed = host(extra: [
            ObservedLink(index: 40, name: "br0v5", kind: "bridge", bridge: BridgeInfo()),
            ObservedLink(index: 41, name: "eth0.5", kind: "vlan", master: "br0v5", vlan: VLANLinkInfo(id: vid(5), parent: "eth0")),
        ])
        let result = try plan(domainXML(nics: [("52:54:00:00:00:01", "br0v5", nil)]), .prepare, config: classicBR0, observed: observed)
        #expect(result.actions.isEmpty)
        #expect(result.notes.contains { $0.contains("eth0.5") && $0.contains("takes VLAN 5 away") })
    }

    @Test func aLinkSquattingTheAccessBridgeNameIsRefused() {
        let observed = host(extra: [ObservedLink(index: 40, name: "br0v5", kind: "dummy")])
        #expect(throws: Refusal.self) {
            try plan(domainXML(nics: [("52:54:00:00:00:01", "br0v5", nil)]), .prepare, config: classicBR0, observed: observed)
        }
    }

    @Test func policyOutsideTheUplinkVLANsIsRefused() {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", nil)],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='30'/></vw:interface>")
        do {
            _ = try plan(xml, .prepare, config: classicBR0, observed: host())
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("does not carry"))
        }
    }
}

@Suite struct VLANAwarePlannerTests {
    @Test func accessPortReplacesTheDefaultVLAN() throws {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", "vnet0")],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface>")
        let observed = host(
            vlanFiltering: true, uplinkVLANs: PortVLANs(members: .all, untagged: vset("1"), pvid: vid(1)),
            taps: [("vnet0", "52:54:00:00:00:01", "br0")])
        let result = try plan(xml, config: vlanAwareBR0, observed: observed)
        #expect(commands(result) == ["bridge vlan del dev vnet0 vid 1", "bridge vlan add dev vnet0 vid 5 pvid untagged"])
    }

    @Test func trunk2to4094IsTwoMessages() throws {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", "vnet0")],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='yes' tags='2-4094'/></vw:interface>")
        let observed = host(
            vlanFiltering: true, uplinkVLANs: PortVLANs(members: .all, untagged: vset("1"), pvid: vid(1)),
            taps: [("vnet0", "52:54:00:00:00:01", "br0")])
        let result = try plan(xml, config: vlanAwareBR0, observed: observed)
        #expect(
            result.actions == [
                .removePortVLANs(port: link("vnet0"), vlans: vset("1")),
                .addPortVLANs(port: link("vnet0"), vlans: PortVLANs(members: vset("2-4094"))),
            ])
    }

    @Test func turnsFilteringOnAndGivesTheUplinkItsVLANs() throws {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", nil)],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface>")
        let result = try plan(xml, .prepare, config: vlanAwareBR0, observed: host(vlanFiltering: false))
        #expect(
            result.actions == [
                .setVLANFiltering(bridge: link("br0"), enabled: true),
                .addPortVLANs(port: link("eth0"), vlans: PortVLANs(members: vset("2-4094"))),
            ])
    }

    @Test func kernelWithoutFilteringRefuses() {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", nil)],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface>")
        let observed = host(vlanFiltering: false, capabilities: KernelCapabilities(vlan8021Q: false, bridgeVLANFiltering: false))
        do {
            _ = try plan(xml, .prepare, config: vlanAwareBR0, observed: observed)
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("bridge VLAN filtering"))
        }
    }

    @Test func noPolicyMeansNoChange() throws {
        let result = try plan(
            domainXML(nics: [("52:54:00:00:00:01", "br0", "vnet0")]), config: vlanAwareBR0,
            observed: host(
                vlanFiltering: true, uplinkVLANs: PortVLANs(members: .all, untagged: vset("1"), pvid: vid(1)),
                taps: [("vnet0", "52:54:00:00:00:01", "br0")]))
        #expect(result.actions.isEmpty)
        #expect(result.nics[0].wiring?.source == .kernelDefault)
    }

    @Test func tapIsFoundByMACWhenTargetDevIsMissing() throws {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", nil)],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface>")
        let observed = host(
            vlanFiltering: true, uplinkVLANs: PortVLANs(members: .all, untagged: vset("1"), pvid: vid(1)),
            taps: [("vnet7", "52:54:00:00:00:01", "br0")])
        let result = try plan(xml, config: vlanAwareBR0, observed: observed)
        #expect(result.record?.nics.first?.tap == link("vnet7"))
    }

    @Test func aMissingTapAtStartIsAProblem() {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", "vnet0")],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface>")
        #expect(throws: Refusal.self) { try plan(xml, config: vlanAwareBR0, observed: host(vlanFiltering: true)) }
    }

    /// A real kernel reports br0's vlan_default_pvid (1) and its own VLANs: a configured vlan-aware
    /// uplink closes the bridge, keeping VLAN 1 on every port still on it (eth0 here, and the tap
    /// being wired, which then gets its policy) and on br0 itself; the uplink's VLANs follow.
    @Test func failClosedClosesTheBridgeAndKeepsTheDefaultOnPortsThatHaveIt() throws {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", "vnet0")],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface>")
        var observed = host(vlanFiltering: true, taps: [("vnet0", "52:54:00:00:00:01", "br0")])
        observed.change("br0") {
            $0.bridge?.defaultPVID = 1
            $0.bridge?.selfVLANs = .kernelDefault
        }
        let result = try plan(xml, config: vlanAwareBR0, observed: observed)
        #expect(
            commands(result) == [
                "bridge vlan add dev eth0 vid 4094; bridge vlan add dev vnet0 vid 4094; bridge vlan add dev br0 vid 4094 self; "
                    + "ip link set br0 type bridge vlan_default_pvid 4094; ip link set br0 type bridge vlan_default_pvid 0; "
                    + "bridge vlan del dev eth0 vid 4094; bridge vlan del dev vnet0 vid 4094; bridge vlan del dev br0 vid 4094 self",
                "bridge vlan add dev eth0 vid 2-4094",
                "bridge vlan del dev vnet0 vid 1", "bridge vlan add dev vnet0 vid 5 pvid untagged",
            ])
        #expect(result.notes.contains { $0.hasPrefix("closes br0 (fail-closed)") })
        // Undone exactly: back to VLAN 1 by the same way round, no port touched.
        #expect(
            result.actions[0].inverse(before: observed) == [
                .setDefaultPVID(
                    bridge: link("br0"), to: vid(1),
                    keeping: [link("eth0"), link("vnet0"), link("br0")], spare: vid(4094))
            ])
        var model = KernelModel(state: observed)
        try model.apply(result.actions)
        #expect(model.state.link(named: "br0")?.bridge?.defaultPVID == 0)
        #expect(model.state.link(named: "eth0")?.port?.vlans?.pvid == vid(1), "the uplink keeps its native VLAN")
        #expect(model.state.link(named: "vnet0")?.port?.vlans == PortVLANs(policy: .access(vid(5))))
        // Closed: nothing more to do; a tap that joins later starts with no VLAN, and gets only its policy.
        #expect(try plan(xml, config: vlanAwareBR0, observed: model.state).actions.isEmpty)
        model.state.links.append(ObservedLink(index: 40, name: "vnet9", kind: "tun", mac: mac("52:54:00:00:00:09").libvirtTapAddress))
        try model.apply([.enslave(link: link("vnet9"), bridge: link("br0"))])
        #expect(model.state.link(named: "vnet9")?.port?.vlans == PortVLANs(), "fail closed: no VLAN at all")
        let hotPlugged = domainXML(
            nics: [("52:54:00:00:00:09", "br0", "vnet9")],
            metadata: "<vw:interface mac='52:54:00:00:00:09'><vw:vlan tags='30'/></vw:interface>")
        #expect(commands(try plan(hotPlugged, config: vlanAwareBR0, observed: model.state)) == ["bridge vlan add dev vnet9 vid 30 pvid untagged"])
    }

    @Test func failClosedIsAConfigChoice() throws {
        var observed = host(vlanFiltering: true, taps: [("vnet0", "52:54:00:00:00:01", "br0")])
        observed.change("br0") { $0.bridge?.defaultPVID = 1 }
        let open = config("[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nmode = \"vlan-aware\"\nfail-closed = false")
        #expect(!open.uplinks[0].failClosed && vlanAwareBR0.uplinks[0].failClosed && !classicBR0.uplinks[0].failClosed)
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", "vnet0")],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface>")
        #expect(!(try plan(xml, config: open, observed: observed)).actions.contains { if case .setDefaultPVID = $0 { true } else { false } })
        // Without a config (inferred uplinks) the bridge's default is left alone.
        #expect(!(try plan(xml, config: nil, observed: observed)).actions.contains { if case .setDefaultPVID = $0 { true } else { false } })
        #expect(throws: ConfigError.self) {
            try HostConfig(toml: "[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nfail-closed = true", path: "t.toml")
        }
    }

    @Test func networkPortgroupGivesThePolicy() throws {
        let withNetwork = config(
            """
            [[uplink]]
            interface = "eth0"
            bridge = "br0"
            mode = "vlan-aware"
            [[network]]
            name = "lan"
            uplink = "eth0"
            portgroups = { office = "10", router = "trunk:1,5 native:1" }
            """)
        let xml =
            "<domain><name>n1</name><devices><interface type='network'><mac address='52:54:00:00:00:01'/><source network='lan' portgroup='router'/></interface></devices></domain>"
        let result = try plan(xml, .prepare, config: withNetwork, observed: host(vlanFiltering: true))
        #expect(result.nics[0].wiring?.policy == .trunk(tagged: vset("5"), native: vid(1)))
        #expect(result.nics[0].wiring?.source == .portgroup(network: "lan", portgroup: "router"))
    }
}

@Suite struct ResolutionTests {
    @Test(arguments: ["openvswitch", "direct", "user", "bridge"])
    func virtInstallFixturesResolve(_ name: String) throws {
        let guest = try DomainDescription(xml: Repository.read("Tests/VLANWireTests/Fixtures/virt-install/\(name).xml"))
        let nics = try Planner(topology: Topology.resolve(config: classicBR0, observed: .unknown), observed: .unknown).resolve(guest)
        #expect(nics.count == 1)
        #expect((nics[0].wiring == nil) == (name != "bridge"), "\(nics[0])")
    }

    @Test func metadataOnADirectInterfaceIsRefused() {
        let xml =
            "<domain><name>d1</name><metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface></vw:vlans></metadata><devices><interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='eth0' mode='bridge'/></interface></devices></domain>"
        #expect(throws: Refusal.self) { try plan(xml, .prepare, config: classicBR0, observed: host()) }
    }

    @Test func unknownBridgeIsLeftAloneUnlessMetadataAsks() throws {
        let plain = try plan(domainXML(nics: [("52:54:00:00:00:01", "virbr0", nil)]), .prepare, config: classicBR0, observed: host())
        #expect(plain.nics[0].wiring == nil)
        let asked = domainXML(
            nics: [("52:54:00:00:00:01", "virbr0", nil)],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface>")
        #expect(throws: Refusal.self) { try plan(asked, .prepare, config: classicBR0, observed: host()) }
    }

    @Test func hostileBridgeNameIsRefusedBeforeAnythingElse() {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0;reboot", nil)],
            metadata: "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface>")
        do {
            _ = try plan(xml, .prepare, config: classicBR0, observed: host())
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("link name"))
        }
    }

    @Test func everyBadNICIsReportedAtOnce() {
        let xml = domainXML(
            nics: [("52:54:00:00:00:01", "br0", nil), ("52:54:00:00:00:02", "br0", nil)],
            metadata:
                "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='30'/></vw:interface><vw:interface mac='52:54:00:00:00:02'><vw:vlan tags='31'/></vw:interface>"
        )
        do {
            _ = try plan(xml, .prepare, config: classicBR0, observed: host())
            Issue.record("accepted")
        } catch {
            #expect(error.problems.count == 2)
        }
    }

    @Test func inferenceWithoutConfig() throws {
        let observed = ObservedState(
            complete: true,
            links: [
                ObservedLink(index: 2, name: "eth0", master: "br0"),
                ObservedLink(index: 3, name: "br0", kind: "bridge", bridge: BridgeInfo(vlanFiltering: false)),
                ObservedLink(index: 4, name: "br0v5", kind: "bridge", bridge: BridgeInfo()),
                ObservedLink(index: 5, name: "br1", kind: "bridge", bridge: BridgeInfo(vlanFiltering: true)),
            ])
        let topology = Topology.resolve(config: nil, observed: observed)
        #expect(topology.uplinks.map(\.bridge) == [link("br0"), link("br1")])
        #expect(topology.uplinks[0].interface == link("eth0"))
        #expect(topology.uplinks[1].mode == .vlanAware)
        #expect(topology.role(ofBridge: "br0v5", observed: observed) == .access(topology.uplinks[0], vid(5)))
        // A config file without an [[uplink]] (the Debian package's example, all comments) is no config.
        let empty = try HostConfig(toml: "# nothing but comments\n", path: "/etc/vlanwire/vlanwire.toml")
        #expect(Topology.resolve(config: empty, observed: observed) == topology)
        #expect(Topology.resolve(config: empty, observed: .unknown) == Topology.resolve(config: nil, observed: .unknown))
    }
}

@Suite struct NamingTests {
    @Test func longNamesAreShortenedStably() {
        let uplink = Uplink(interface: link("enp129s0f1np1"), bridge: link("br-storage-lan"), mode: .classic)
        let name = LinkNaming.accessBridge(for: uplink, vid: vid(4094))
        #expect(name.rawValue.utf8.count <= 15)
        #expect(name.rawValue.hasSuffix("v4094"))
        #expect(name == LinkNaming.accessBridge(for: uplink, vid: vid(4094)))
        #expect(name != LinkNaming.accessBridge(for: uplink, vid: vid(4093)))
        #expect(LinkNaming.accessVLAN(ofBridge: name.rawValue, uplink: uplink) == vid(4094))
        #expect(LinkNaming.vlanLeg(parent: link("enp129s0f1np1"), vid: vid(4094)).rawValue.hasSuffix(".4094"))
        // FNV-1a of a fixed string: if this changes, deployed hosts would lose track of their bridges.
        #expect(LinkNaming.fnv1a32("br-storage-lanv4094") == LinkNaming.fnv1a32("br-storage-lanv4094"))
        #expect(LinkNaming.fnv1a32("a") == 0xE40C_292C)
    }

    @Test func shortNamesAreKept() {
        let uplink = Uplink(interface: link("eth0"), bridge: link("br0"), mode: .classic)
        #expect(LinkNaming.accessBridge(for: uplink, vid: vid(5)) == link("br0v5"))
        #expect(LinkNaming.vlanLeg(parent: link("br0"), vid: vid(5)) == link("br0.5"))
    }
}

@Suite struct ReleaseTests {
    let created = [CreatedLink(name: link("br0v5"), index: 40, kind: "bridge"), CreatedLink(name: link("br0.5"), index: 41, kind: "vlan")]
    var kernel: ObservedState {
        host(extra: [
            ObservedLink(index: 40, name: "br0v5", kind: "bridge", alias: LinkMark.namespaceDefault.alias, bridge: BridgeInfo()),
            ObservedLink(
                index: 41, name: "br0.5", kind: "vlan", master: "br0v5", alias: LinkMark.namespaceDefault.alias,
                vlan: VLANLinkInfo(id: vid(5), parent: "br0")),
        ])
    }
    func guest(_ name: String) -> GuestRecord {
        GuestRecord(
            name: name,
            nics: [
                NICRecord(
                    mac: mac("52:54:00:00:00:01"), policy: .access(vid(5)), bridge: link("br0v5"),
                    uses: [link("br0v5"), link("br0.5")])
            ])
    }

    @Test func deletesWhatItCreatedWhenTheLastGuestGoes() {
        let state = VLANWireState(createdLinks: created, guests: [guest("a")])
        let plan = Planner(topology: Topology.resolve(config: classicBR0, observed: kernel), observed: kernel, state: state).planRelease(guest: "a")
        #expect(plan.actions == [.deleteLink(link("br0v5")), .deleteLink(link("br0.5"))])
        let next = state.updated(with: plan, created: [])
        #expect(next.createdLinks.isEmpty && next.guests.isEmpty)
    }

    @Test func keepsWhatAnotherGuestUses() {
        let state = VLANWireState(createdLinks: created, guests: [guest("a"), guest("b")])
        let plan = Planner(topology: Topology.resolve(config: classicBR0, observed: kernel), observed: kernel, state: state).planRelease(guest: "a")
        #expect(plan.actions.isEmpty)
        #expect(state.updated(with: plan, created: []).guests.map(\.name) == ["b"])
    }

    @Test func keepsABridgeWithForeignPorts() {
        var observed = kernel
        observed.links.append(ObservedLink(index: 50, name: "vnet9", kind: "tun", master: "br0v5"))
        let state = VLANWireState(createdLinks: created, guests: [guest("a")])
        let plan = Planner(topology: Topology.resolve(config: classicBR0, observed: observed), observed: observed, state: state).planRelease(
            guest: "a")
        #expect(plan.actions.isEmpty)
        #expect(plan.notes.contains { $0.contains("vnet9") })
    }

    @Test func neverDeletesALinkItDidNotCreate() {
        // Same name, different ifindex: someone recreated it.
        var observed = kernel
        observed.links[observed.links.firstIndex { $0.name == "br0v5" }!].index = 99
        let state = VLANWireState(createdLinks: created, guests: [])
        let plan = Planner(topology: Topology.resolve(config: classicBR0, observed: observed), observed: observed, state: state).planRelease(
            guest: "a")
        #expect(!plan.actions.contains(.deleteLink(link("br0v5"))))
        // Unmarked: not ours either.
        var unmarked = kernel
        for i in unmarked.links.indices { unmarked.links[i].alias = nil }
        let plan2 = Planner(topology: Topology.resolve(config: classicBR0, observed: unmarked), observed: unmarked, state: state).planRelease(
            guest: "a")
        #expect(plan2.actions.isEmpty)
    }

    @Test func rebuiltStateDeletesNothing() {
        let state = VLANWireState.rebuilt(from: kernel, mark: .namespaceDefault)
        #expect(state.createdLinks.map(\.name) == [link("br0v5"), link("br0.5")])
        let plan = Planner(topology: Topology.resolve(config: classicBR0, observed: kernel), observed: kernel, state: state).planRelease(guest: "a")
        #expect(plan.actions.isEmpty)
    }

    /// The first run on a fresh host has no state file and no marked link: what it creates must
    /// be deletable when its guest goes (the lab's access mode kept br01/eth0.1 forever).
    @Test func freshHostStateKnowsItsUsers() {
        var fresh = kernel
        for i in fresh.links.indices { fresh.links[i].alias = nil }
        let state = VLANWireState.rebuilt(from: fresh, mark: .namespaceDefault)
        #expect(state.createdLinks.isEmpty)
        #expect(!state.usersUnknown)
        // a created br0v5 (+ leg) used only by guest a, recorded on top of the rebuilt state
        let recorded = VLANWireState(createdLinks: created, guests: [guest("a")], usersUnknown: state.usersUnknown)
        let plan = Planner(topology: Topology.resolve(config: classicBR0, observed: kernel), observed: kernel, state: recorded).planRelease(
            guest: "a")
        #expect(plan.actions.contains(.deleteLink(link("br0v5"))))
        #expect(VLANWireState.rebuilt(from: kernel, mark: .namespaceDefault).usersUnknown)
    }
}

/// Apply every example's plan to the kernel model, plan again: nothing left to do.
@Suite struct IdempotenceTests {
    @Test(arguments: ["access-mode", "trunk-mode", "mixed", "vlan-aware"])
    func secondPlanIsEmpty(_ example: String) throws {
        let config = try HostConfig(toml: Repository.text("Examples/\(example)/vlanwire.toml"), path: example)
        let uplink = config.uplinks[0]
        var guests: [DomainDescription] = []
        var taps: [(String, String, String)] = []
        for file in Repository.files(in: "Examples/\(example)", suffix: ".xml") {
            let guest = try DomainDescription(xml: Repository.read(file))
            guests.append(guest)
            for nic in guest.interfaces { taps.append((nic.targetDevice!, nic.mac!.description, nic.sourceBridge!)) }
        }
        var observed = host(trunk: uplink.bridge?.rawValue, vlanFiltering: uplink.mode == .vlanAware, taps: [])
        var model = KernelModel(state: observed)
        // libvirt creates the taps in their source bridges (which prepare may just have created).
        for guest in guests {
            let prepare = try Planner(topology: Topology.resolve(config: config, observed: model.state), observed: model.state)
                .plan(guest, operation: .prepare)
            try model.apply(prepare.actions)
        }
        observed = model.state
        for (index, tap) in taps.enumerated() {
            let bridge = observed.link(named: tap.2)
            observed.links.append(
                ObservedLink(
                    index: Int32(500 + index), name: tap.0, kind: "tun", master: tap.2,
                    mac: mac(tap.1).libvirtTapAddress,
                    port: BridgePortInfo(vlans: bridge?.bridge?.vlanFiltering == true ? .kernelDefault : nil)))
        }
        model.state = observed
        for guest in guests {
            let start = try Planner(topology: Topology.resolve(config: config, observed: model.state), observed: model.state)
                .plan(guest, operation: .start)
            try model.apply(start.actions)
        }
        for guest in guests {
            let again = try Planner(topology: Topology.resolve(config: config, observed: model.state), observed: model.state)
                .plan(guest, operation: .started)
            #expect(again.actions.isEmpty, "\(example)/\(guest.name): \(again.actions)")
        }
    }
}

/// `vlanwire plan` output for Examples/, compared with Tests/VLANWireTests/Golden/.
/// Regenerate with VLANWIRE_UPDATE_GOLDEN=1 after an intended change, and review the diff.
@Suite struct GoldenPlanTests {
    @Test(arguments: ["access-mode", "trunk-mode", "mixed", "vlan-aware"])
    func matchesGolden(_ example: String) throws {
        let config = try HostConfig(toml: Repository.text("Examples/\(example)/vlanwire.toml"), path: example)
        let planner = Planner(topology: Topology.resolve(config: config, observed: .unknown), observed: .unknown)
        var text = ""
        for file in Repository.files(in: "Examples/\(example)", suffix: ".xml") {
            for op in [HookOperation.prepare, .start] {
                text += PlanReport(try planner.plan(DomainDescription(xml: Repository.read(file)), operation: op)).text + "\n"
            }
        }
        let goldenPath = "Tests/VLANWireTests/Golden/\(example).txt"
        if getenv("VLANWIRE_UPDATE_GOLDEN") != nil {
            let file = fopen(Repository.path(goldenPath), "w")!
            fputs(text, file)
            fclose(file)
        }
        #expect(text == (try Repository.text(goldenPath)))
    }
}
