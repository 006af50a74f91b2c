import Foundation
import Testing
import VLANWireTestSupport

@testable import VLANWire
@testable import VLANWireReports

private func config(_ toml: String) -> HostConfig { try! HostConfig(toml: toml, path: "test.toml") }

private let vlanAware = config(
    """
    [[uplink]]
    interface = "eth0"
    bridge = "br0"
    mode = "vlan-aware"
    vlans = "1-100"
    """)

private let classic = config(
    """
    [[uplink]]
    interface = "eth0"
    bridge = "br0"
    mode = "classic"
    vlans = "1,5,10"
    native-vlan = 1
    """)

private let web = "52:54:00:00:00:01"
private let router = "52:54:00:00:00:02"
private let access5 = "<vw:interface mac='\(web)'><vw:vlan tags='5'/></vw:interface>"

private func status(_ xml: String, config: HostConfig?, observed: ObservedState) throws -> GuestStatus {
    GuestStatus.compare(try domain(xml), topology: Topology.resolve(config: config, observed: observed), observed: observed)
}

private func kinds(_ nic: NICStatus) -> [Mismatch.Kind] { nic.mismatches.map(\.kind) }

/// A tap `name` with libvirt's tap MAC for `guestMAC`, in `bridge`, with `vlans` on its port.
private func tap(_ name: String, _ guestMAC: String, in bridge: String?, vlans: PortVLANs?, index: Int32 = 20) -> ObservedLink {
    ObservedLink(
        index: index, name: name, kind: "tun", master: bridge, mac: mac(guestMAC).libvirtTapAddress,
        port: bridge.map { _ in BridgePortInfo(vlans: vlans) })
}

@Suite struct GuestStatusTests {
    let filtering = host(vlanFiltering: true, uplinkVLANs: PortVLANs(members: vset("1-100"), untagged: vset("1"), pvid: vid(1)))

    @Test func aWiredAccessPortIsClean() throws {
        var observed = filtering
        observed.links.append(tap("vnet0", web, in: "br0", vlans: PortVLANs(policy: .access(vid(5)))))
        let guest = try status(domainXML(nics: [(web, "br0", "vnet0")], metadata: access5), config: vlanAware, observed: observed)
        let nic = try #require(guest.nics.first)
        #expect(nic.mismatches.isEmpty)
        #expect(nic.managed && nic.policy == .access(vid(5)) && nic.policySource == "vlanwire metadata")
        #expect(nic.tap == "vnet0" && nic.tapFoundBy == .targetDevice)
        #expect(nic.bridge == "br0" && nic.kernelBridge == "br0")
        #expect(nic.expectedVLANs == PortVLANs(policy: .access(vid(5))) && nic.kernelVLANs == nic.expectedVLANs)
    }

    @Test func theTapIsFoundByItsMACWithoutTargetDev() throws {
        var observed = filtering
        observed.links.append(tap("vnet7", web, in: "br0", vlans: PortVLANs(policy: .access(vid(5)))))
        let nic = try #require(
            try status(
                domainXML(nics: [(web, "br0", nil)], metadata: access5), config: vlanAware,
                observed: observed
            ).nics.first)
        #expect(nic.tap == "vnet7" && nic.tapFoundBy == .mac && nic.mismatches.isEmpty)
    }

    /// A guest MAC starting with fe: libvirt gives the tap fa:.
    @Test func aGuestMACStartingWithFEMeansATapWithFA() throws {
        var observed = filtering
        observed.links.append(
            ObservedLink(
                index: 30, name: "vnet3", kind: "tun", master: "br0", mac: mac("fa:54:00:00:00:09"),
                port: BridgePortInfo(vlans: .kernelDefault)))
        let nic = try #require(
            try status(
                domainXML(nics: [("fe:54:00:00:00:09", "br0", nil)]), config: vlanAware,
                observed: observed
            ).nics.first)
        #expect(nic.tap == "vnet3")
        #expect(nic.policySource == "kernel default" && nic.policy == nil && nic.mismatches.isEmpty)
    }

    @Test func portVLANsRemovedByHandDiffer() throws {
        var observed = filtering
        // `bridge vlan del dev vnet0 vid 5` leaves nothing.
        observed.links.append(tap("vnet0", web, in: "br0", vlans: PortVLANs()))
        let nic = try #require(
            try status(
                domainXML(nics: [(web, "br0", "vnet0")], metadata: access5), config: vlanAware,
                observed: observed
            ).nics.first)
        #expect(kinds(nic) == [.vlansDiffer])
        #expect(nic.mismatches[0].message == "the port has no VLANs; the policy needs pvid 5, untagged 5")
        #expect(nic.mismatches[0].reconcileFixes)
    }

    @Test func aTapInAnotherBridgeIsInTheWrongBridge() throws {
        var observed = filtering
        observed.links.append(ObservedLink(index: 9, name: "br1", kind: "bridge", bridge: BridgeInfo()))
        observed.links.append(tap("vnet0", web, in: "br1", vlans: nil))
        let nic = try #require(
            try status(
                domainXML(nics: [(web, "br0", "vnet0")], metadata: access5), config: vlanAware,
                observed: observed
            ).nics.first)
        #expect(kinds(nic) == [.wrongBridge])
        #expect(nic.mismatches[0].message == "tap vnet0 is in br1; its policy access:5 needs br0")
        #expect(nic.mismatches[0].reconcileFixes)
        #expect(nic.kernelBridge == "br1")
    }

    @Test func aMissingTapIsReported() throws {
        let nic = try #require(
            try status(
                domainXML(nics: [(web, "br0", "vnet0")], metadata: access5), config: vlanAware,
                observed: filtering
            ).nics.first)
        #expect(kinds(nic) == [.tapMissing])
        #expect(nic.mismatches[0].message == "no tap with this NIC's MAC (fe:54:00:00:00:01)")
        #expect(!nic.mismatches[0].reconcileFixes)
        #expect(nic.tap == nil)
    }

    @Test func aTargetDevWithAnotherMACIsNotTheTap() throws {
        var observed = filtering
        observed.links.append(tap("vnet0", router, in: "br0", vlans: .kernelDefault, index: 20))
        observed.links.append(tap("vnet5", web, in: "br0", vlans: PortVLANs(policy: .access(vid(5))), index: 21))
        let nic = try #require(
            try status(
                domainXML(nics: [(web, "br0", "vnet0")], metadata: access5), config: vlanAware,
                observed: observed
            ).nics.first)
        #expect(kinds(nic) == [.tapMAC])
        #expect(nic.tap == "vnet5" && nic.tapFoundBy == .mac)
    }

    /// No policy: nothing is enforced, but a tap outside libvirt's bridge is shown (and not fixable).
    @Test func aNICWithoutPolicyIsKernelDefault() throws {
        var observed = host(taps: [("vnet0", web, "br0")])
        let xml = domainXML(nics: [(web, "br0", "vnet0")])
        let clean = try #require(try status(xml, config: nil, observed: observed).nics.first)
        #expect(clean.managed && clean.policy == nil && clean.policySource == "kernel default" && clean.mismatches.isEmpty)

        observed.links.append(ObservedLink(index: 9, name: "br9", kind: "bridge", bridge: BridgeInfo()))
        observed.links[observed.links.firstIndex { $0.name == "vnet0" }!].master = "br9"
        let moved = try #require(try status(xml, config: nil, observed: observed).nics.first)
        #expect(kinds(moved) == [.wrongBridge])
        #expect(!moved.mismatches[0].reconcileFixes)
        #expect(moved.mismatches[0].message.contains("vlanwire does not move NICs without a policy"))
    }

    @Test func unmanagedNICsAreShownWithoutChecks() throws {
        let xml = """
            <domain type='kvm'><name>g1</name><devices>
            <interface type='direct'><mac address='\(web)'/><source dev='eth1' mode='bridge'/></interface>
            </devices></domain>
            """
        let nic = try #require(try status(xml, config: vlanAware, observed: filtering).nics.first)
        #expect(!nic.managed && nic.mismatches.isEmpty)
        #expect(nic.reason == "type 'direct' is not a Linux bridge port")
        #expect(nic.source == "dev eth1")
    }

    /// One refused NIC does not hide the other NIC's comparison.
    @Test func aRefusedPolicyIsAMismatchAndTheOtherNICStillCompares() throws {
        let observed = host(taps: [("vnet0", web, "br0"), ("vnet1", router, "br0")])
        let xml = domainXML(
            nics: [(web, "br0", "vnet0"), (router, "br0", "vnet1")],
            metadata: "<vw:interface mac='\(router)'><vw:vlan trunk='yes' tags='5'/></vw:interface>")
        let guest = try status(xml, config: classic, observed: observed)
        #expect(guest.nics.count == 2)
        #expect(guest.nics[0].mismatches.isEmpty && guest.nics[0].policySource == "kernel default")
        #expect(kinds(guest.nics[1]) == [.policyRefused])
        #expect(guest.nics[1].tap == "vnet1")
        #expect(guest.nics[1].mismatches[0].message.hasPrefix("policy refused: trunk:5 on classic bridge br0 cannot be enforced"))
    }

    @Test func classicAccessPathWithoutLegIsReported() throws {
        let observed = host(
            taps: [("vnet0", web, "br0v5")],
            extra: [ObservedLink(index: 7, name: "br0v5", kind: "bridge", bridge: BridgeInfo())])
        let nic = try #require(try status(domainXML(nics: [(web, "br0v5", "vnet0")]), config: classic, observed: observed).nics.first)
        #expect(nic.policy == .access(vid(5)) && nic.policySource == "access bridge br0v5")
        #expect(kinds(nic) == [.accessPath])
        #expect(nic.mismatches[0].message == "access bridge br0v5 has no VLAN 5 leg (br0.5)")
        #expect(nic.expectedVLANs == nil)
    }

    @Test func aTrunkBridgeWithoutFilteringIsNotVLANAware() throws {
        var observed = host(vlanFiltering: false)
        observed.links.append(tap("vnet0", web, in: "br0", vlans: nil))
        let nic = try #require(
            try status(
                domainXML(nics: [(web, "br0", "vnet0")], metadata: access5), config: vlanAware,
                observed: observed
            ).nics.first)
        #expect(kinds(nic) == [.notVLANAware])
    }

    @Test func anUplinkMissingThePolicysVLANsIsReported() throws {
        var observed = host(vlanFiltering: true, uplinkVLANs: .kernelDefault)
        observed.links.append(tap("vnet0", web, in: "br0", vlans: PortVLANs(policy: .access(vid(5)))))
        let nic = try #require(
            try status(
                domainXML(nics: [(web, "br0", "vnet0")], metadata: access5), config: vlanAware,
                observed: observed
            ).nics.first)
        #expect(kinds(nic) == [.uplinkVLANs])
        #expect(nic.mismatches[0].message == "uplink eth0 does not carry VLAN 5")
    }

    // MARK: the report

    @Test func textTableAndVerdict() throws {
        var observed = filtering
        observed.links.append(ObservedLink(index: 9, name: "br1", kind: "bridge", bridge: BridgeInfo()))
        observed.links.append(tap("vnet0", web, in: "br0", vlans: PortVLANs(policy: .access(vid(5))), index: 20))
        observed.links.append(tap("vnet1", router, in: "br1", vlans: nil, index: 21))
        let web1 = try status(domainXML(name: "web1", nics: [(web, "br0", "vnet0")], metadata: access5), config: vlanAware, observed: observed)
        let router1 = try status(
            domainXML(
                name: "router1", nics: [(router, "br0", "vnet1")],
                metadata: "<vw:interface mac='\(router)'><vw:vlan trunk='yes' tags='1,5,10-20' native='1'/></vw:interface>"),
            config: vlanAware, observed: observed)
        let view = LibvirtView(
            state: .connected, uri: "qemu:///system",
            guests: [web1, router1, GuestStatus(name: "db1", error: "NIC 52:54:00:00:00:03: vlanwire metadata: invalid VLAN id '0'")])
        #expect(
            view.text == """
                Guests (qemu:///system, 3 running):
                GUEST    MAC                TAP    BRIDGE  POLICY                    FROM               KERNEL                   MISMATCH
                web1     52:54:00:00:00:01  vnet0  br0     access:5                  vlanwire metadata  br0; pvid 5, untagged 5  ok
                router1  52:54:00:00:00:02  vnet1  br0     trunk:1,5,10-20 native:1  vlanwire metadata  br1                      tap vnet1 is in br1; its policy trunk:1,5,10-20 native:1 needs br0
                db1      -                  -      -       -                         -                  -                        cannot read: NIC 52:54:00:00:00:03: vlanwire metadata: invalid VLAN id '0'

                1 mismatch; `vlanwire reconcile` fixes it (`vlanwire reconcile --plan` shows how).

                """)
        #expect(LibvirtView(state: .notAsked).text == "libvirt: not asked (--no-libvirt); the kernel's view only.\n")
        #expect(
            LibvirtView(state: .unreachable, uri: "qemu:///system", error: "no socket").text
                == "libvirt: unreachable at qemu:///system (no socket); the kernel's view only.\n")
        #expect(LibvirtView(state: .connected, uri: "qemu:///system").text == "Guests (qemu:///system): none running.\n")
        #expect(
            LibvirtView(state: .connected, uri: "test:///default", guests: [web1]).text.hasSuffix(
                "Every guest NIC is as its definition and policy say.\n"))
    }

    /// `status --json` is the observed state with a `libvirt` key: `plan --observed` still reads it.
    @Test func statusDocumentIsTheObservedStatePlusLibvirt() throws {
        var observed = filtering
        observed.links.append(tap("vnet0", web, in: "br0", vlans: PortVLANs()))
        let guest = try status(domainXML(name: "web1", nics: [(web, "br0", "vnet0")], metadata: access5), config: vlanAware, observed: observed)
        let document = StatusDocument(kernel: observed, libvirt: LibvirtView(state: .connected, uri: "qemu:///system", guests: [guest]))
        let text = JSON.encode(document)
        #expect(try JSON.decode(ObservedState.self, from: Array(text.utf8), what: "status") == observed)
        #expect(try JSON.decode(StatusDocument.self, from: Array(text.utf8), what: "status") == document)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["complete", "links", "capabilities", "libvirt", "watch"])
        let nic = try #require(((object["libvirt"] as? [String: Any])?["guests"] as? [[String: Any]])?.first?["nics"] as? [[String: Any]])[0]
        #expect(nic["policy"] as? String == "access:5")
        #expect(nic["tapFoundBy"] as? String == "target-dev")
        #expect((nic["mismatches"] as? [[String: Any]])?.first?["kind"] as? String == "vlans-differ")
        #expect(nic.keys.contains("reason"), "absent values are null, not left out")
    }
}
