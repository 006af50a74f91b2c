import Testing
import VLANWireTestSupport

@testable import VLANWire
@testable import VLANWireReports

// Issue 17, part 3 of its list: a guest's <mtu size> along the path vlanwire builds.

private func config(_ toml: String) -> HostConfig { try! HostConfig(toml: toml, path: "test.toml") }

private let classic = config(
    """
    [[uplink]]
    interface = "eth0"
    bridge = "br0"
    mode = "classic"
    vlans = "1,5,10"
    native-vlan = 1
    """)

private let vlanAware = config(
    """
    [[uplink]]
    interface = "eth0"
    bridge = "br0"
    mode = "vlan-aware"
    vlans = "1-100"
    """)

private let web = "52:54:00:00:00:01"

private func guestXML(mtu: String?, vlan: String = "<vw:vlan tags='10'/>", tap: String? = nil) -> String {
    let mtuElement = mtu.map { "<mtu size='\($0)'/>" } ?? ""
    return
        "<domain type='kvm'><name>jumbo1</name><metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='\(web)'>\(vlan)</vw:interface></vw:vlans></metadata>"
        + "<devices><interface type='bridge'><mac address='\(web)'/><source bridge='br0'/>\(tap.map { "<target dev='\($0)'/>" } ?? "")\(mtuElement)<model type='virtio'/></interface></devices></domain>"
}

private func plan(_ xml: String, _ op: HookOperation = .prepare, config: HostConfig, observed: ObservedState) throws(Refusal) -> Plan {
    try Planner(topology: Topology.resolve(config: config, observed: observed), observed: observed).plan(try domain(xml), operation: op)
}

/// eth0 in br0, both with `mtu`.
private func jumboHost(_ mtu: Int, vlanFiltering: Bool = false, taps: [(name: String, mac: String, bridge: String)] = []) -> ObservedState {
    var observed = host(vlanFiltering: vlanFiltering, taps: taps)
    observed.change("eth0") { $0.mtu = mtu }
    observed.change("br0") { $0.mtu = mtu }
    return observed
}

@Suite struct PathMTUTests {
    @Test func readsTheInterfaceMTU() throws {
        #expect(try domain(guestXML(mtu: "9000")).interfaces[0].mtu == 9000)
        #expect(try domain(guestXML(mtu: nil)).interfaces[0].mtu == nil)
    }

    @Test(arguments: ["abc", "0", "67", "65536", ""])
    func refusesABadMTU(_ size: String) {
        do {
            _ = try domain(guestXML(mtu: size))
            Issue.record("accepted <mtu size='\(size)'>")
        } catch {
            let line = error.description
            #expect(line.hasPrefix("guest 'jumbo1', NIC \(web): <mtu size=\"\(size)\"> is not an MTU (68...65535)"), "\(line)")
            #expect(line.contains("fix: "), "\(line)")
            #expect(!line.contains("\n"))
        }
    }

    /// A new access bridge starts at 1500: raised to the guest's MTU; the new leg inherits its
    /// parent's (br0's, 9000), so nothing is set on it.
    @Test func raisesANewAccessBridgeAndTheLegInheritsItsParents() throws {
        let result = try plan(guestXML(mtu: "9000"), config: classic, observed: jumboHost(9000))
        #expect(
            result.actions.map(\.description) == [
                "ip link add br0v10 type bridge stp_state 0 forward_delay 0; ip link set br0v10 alias vlanwire",
                "ip link add link br0 name br0.10 type vlan id 10; ip link set br0.10 alias vlanwire",
                "ip link set br0.10 master br0v10",
                "ip link set br0v10 up",
                "ip link set br0.10 up",
                "ip link set br0v10 mtu 9000",
            ])
        var model = KernelModel(state: jumboHost(9000))
        try model.apply(result.actions)
        #expect(model.state.link(named: "br0v10")?.mtu == 9000)
        #expect(model.state.link(named: "br0.10")?.mtu == 9000)
        // Idempotent: a second plan sets nothing.
        #expect(try plan(guestXML(mtu: "9000"), config: classic, observed: model.state).actions.isEmpty)
    }

    @Test func theDefaultMTUChangesNothing() throws {
        let result = try plan(guestXML(mtu: nil), config: classic, observed: jumboHost(1500))
        #expect(!result.actions.contains { if case .setMTU = $0 { true } else { false } })
        let small = try plan(guestXML(mtu: "1400"), config: classic, observed: jumboHost(1500))
        #expect(!small.actions.contains { if case .setMTU = $0 { true } else { false } }, "1400 fits 1500")
    }

    /// vlanwire's own leg and bridge, made earlier at 1500 for another guest, are raised.
    @Test func raisesVLANWiresOwnLegAndBridge() throws {
        var model = KernelModel(state: jumboHost(9000))
        try model.apply(try plan(guestXML(mtu: nil), config: classic, observed: model.state).actions)
        model.state.change("br0.10") { $0.mtu = 1500 }
        #expect(model.state.link(named: "br0v10")?.mtu == 1500)
        let result = try plan(guestXML(mtu: "9000"), config: classic, observed: model.state)
        #expect(result.actions.map(\.description) == ["ip link set br0.10 mtu 9000", "ip link set br0v10 mtu 9000"])
    }

    /// A leg or bridge on the path that is not vlanwire's (an admin's) is not changed: refused with the fix.
    @Test func refusesToChangeAnAdminsLink() throws {
        var observed = jumboHost(9000)
        observed.links.append(ObservedLink(index: 40, name: "br0v10", kind: "bridge", mtu: 1500, bridge: BridgeInfo()))
        observed.links.append(
            ObservedLink(index: 41, name: "br0.10", kind: "vlan", master: "br0v10", mtu: 9000, vlan: VLANLinkInfo(id: vid(10), parent: "br0")))
        do {
            _ = try plan(guestXML(mtu: "9000"), config: classic, observed: observed)
            Issue.record("accepted")
        } catch {
            #expect(error.problems.count == 1)
            #expect(
                error.description.contains(
                    "br0v10 on the guest's path has MTU 1500, smaller than its <mtu size='9000'>, and is not vlanwire's to change"))
            #expect(error.description.contains("fix: ip link set br0v10 mtu 9000"))
        }
    }

    /// The uplink cannot carry the guest's frames: refused, naming guest, MAC, the narrow links and the fix.
    @Test func refusesWhenTheUplinkCannotCarryIt() {
        var observed = jumboHost(9000)
        observed.change("eth0") { $0.mtu = 1500 }
        do {
            _ = try plan(guestXML(mtu: "9000"), config: classic, observed: observed)
            Issue.record("accepted")
        } catch {
            #expect(error.problems.count == 1)
            let line = error.description
            #expect(
                line.hasPrefix(
                    "guest 'jumbo1', NIC \(web): the guest's <mtu size='9000'> does not fit the path to the wire: eth0 has MTU 1500, and VLAN leg br0.10 cannot be larger than its parent"
                ), "\(line)")
            #expect(line.contains("fix: raise the MTU in the host's network configuration (ip link set eth0 mtu 9000)"), "\(line)")
        }
        // The leg's parent (the trunk bridge) too.
        var bridgeSmall = jumboHost(9000)
        bridgeSmall.change("br0") { $0.mtu = 1500 }
        #expect(throws: Refusal.self) { try plan(guestXML(mtu: "9000"), config: classic, observed: bridgeSmall) }
    }

    @Test func vlanAwareAndClassicTrunksCheckTheUplink() throws {
        let trunk = "<vw:vlan trunk='yes' tags='1,5,10' native='1'/>"
        let small = jumboHost(1500, vlanFiltering: true, taps: [("vnet0", web, "br0")])
        #expect(throws: Refusal.self) { try plan(guestXML(mtu: "9000", vlan: trunk, tap: "vnet0"), .start, config: vlanAware, observed: small) }
        let big = jumboHost(9000, vlanFiltering: true, taps: [("vnet0", web, "br0")])
        let result = try plan(guestXML(mtu: "9000", vlan: trunk, tap: "vnet0"), .start, config: vlanAware, observed: big)
        #expect(!result.actions.contains { if case .setMTU = $0 { true } else { false } }, "the admin's trunk bridge is not changed")
        #expect(throws: Refusal.self) {
            try plan(guestXML(mtu: "9000", vlan: trunk), config: classic, observed: jumboHost(1500))
        }
    }

    @Test func rollbackPutsTheMTUBack() {
        let before = jumboHost(9000)
        #expect(Action.setMTU(link: link("br0"), mtu: 1500).inverse(before: before) == [.setMTU(link: link("br0"), mtu: 9000)])
        #expect(Action.setMTU(link: link("br0"), mtu: 9000).inverse(before: before) == [])
        #expect(Action.setMTU(link: link("brNew"), mtu: 9000).inverse(before: before) == [], "a new link goes with its creation")
        #expect(Action.setMTU(link: link("br0v5"), mtu: 9000).description == "ip link set br0v5 mtu 9000")
    }

    /// doctor's MTU-along-the-path check: a leg left at 1500 between a 9000 uplink and a 9000 tap.
    @Test func doctorFindsALegSmallerThanBothEnds() throws {
        var model = KernelModel(state: jumboHost(9000))
        let guest = try domain(guestXML(mtu: "9000", tap: "vnet0"))
        try model.apply(try plan(guestXML(mtu: "9000", tap: "vnet0"), config: classic, observed: model.state).actions)
        model.state.links.append(
            ObservedLink(
                index: 90, name: "vnet0", kind: "tun", master: "br0v10", mtu: 9000, mac: mac(web).libvirtTapAddress,
                port: BridgePortInfo()))
        try model.apply(try plan(guestXML(mtu: "9000", tap: "vnet0"), .start, config: classic, observed: model.state).actions)
        let topology = Topology.resolve(config: classic, observed: model.state)
        func mtuFindings(_ observed: ObservedState) -> [Finding] {
            Doctor(observed: observed, topology: topology, state: nil, guests: [guest], guestSource: .libvirt).findings()
                .filter { $0.check == .mtuBottleneck }
        }
        #expect(mtuFindings(model.state).isEmpty)
        model.state.change("br0.10") { $0.mtu = 1500 }
        let findings = mtuFindings(model.state)
        #expect(findings.count == 1)
        #expect(findings.first?.links == ["br0.10", "eth0", "vnet0"])
        #expect(findings.first?.fix == "ip link set br0.10 mtu 9000")
    }
}
