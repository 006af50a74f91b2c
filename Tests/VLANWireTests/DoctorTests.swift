import Testing
import VLANWireTestSupport

@testable import VLANWire
@testable import VLANWireReports

private func checks(_ findings: [Finding], atLeast severity: Finding.Severity = .info) -> [Finding.Check] {
    findings.filter { $0.severity >= severity }.map(\.check)
}

private func only(_ check: Finding.Check, in findings: [Finding]) throws -> Finding {
    let matching = findings.filter { $0.check == check }
    #expect(matching.count == 1, "expected one \(check.rawValue) finding, got \(matching)")
    return try #require(matching.first)
}

private func config(_ toml: String) -> HostConfig { try! HostConfig(toml: toml, path: "test.toml") }

@Suite("doctor: what vlanwire builds is clean")
struct DoctorCleanTests {
    @Test(arguments: ["access-mode", "trunk-mode", "mixed", "vlan-aware"])
    func wiredExampleHasNoFinding(_ example: String) throws {
        let wired = try WiredExample(example)
        #expect(wired.doctor().findings() == [])
    }

    /// After prepare, before any tap exists: the NICs cannot be checked, and the access bridges
    /// have no guest port yet (what a release that did not run leaves behind looks the same).
    @Test func guestsNotRunning() throws {
        let wired = try WiredExample("mixed", running: false)
        let findings = wired.doctor().findings()
        #expect(findings.filter { $0.check == .tapMissing }.map(\.guest) == ["app1", "office1", "router1"])
        #expect(findings.filter { $0.check == .tapMissing }.allSatisfy { $0.severity == .info })
        #expect(findings.filter { $0.check == .unusedLink }.map(\.links) == [["br0v10", "br0.10"], ["br0v5", "br0.5"]])
        #expect(Set(checks(findings, atLeast: .warning)) == [.unusedLink])
    }
}

@Suite("doctor: VLAN legs")
struct DoctorLegTests {
    /// The seed's trouble: eth0 is a port of br0 and someone added eth0.5 for an access guest.
    @Test func legOnBridgedUplinkStealsTheVLANFromTheBridge() throws {
        var wired = try WiredExample("trunk-mode")
        wired.addLeg("eth0.5", parent: "eth0", vid: 5, master: nil)
        let finding = try only(.vlanLegOnBridgePort, in: wired.doctor().findings())
        #expect(finding.severity == .error)
        #expect(finding.links == ["eth0.5", "eth0", "br0"])
        #expect(finding.message.contains("takes every VLAN 5 frame arriving on eth0 before bridge br0 sees it"))
        #expect(
            finding.fix
                == "hang the leg off the bridge instead: ip link del eth0.5; ip link add link br0 name br0.5 type vlan id 5; ip link set br0.5 up")
        #expect(wired.doctor().report().hasErrors)
    }

    @Test func theFixKeepsTheAccessBridgeFedAndTheNamespace() throws {
        var wired = try WiredExample("trunk-mode")
        wired.observed.links.append(ObservedLink(index: 90, name: "br05", kind: "bridge", bridge: BridgeInfo()))
        wired.addLeg("eth0.5", parent: "eth0", vid: 5, master: "br05")
        var doctor = wired.doctor()
        doctor.commandPrefix = "ip netns exec lab "
        let finding = try only(.vlanLegOnBridgePort, in: doctor.findings())
        #expect(finding.links == ["eth0.5", "eth0", "br0", "br05"])
        #expect(
            finding.fix
                == "hang the leg off the bridge instead: ip netns exec lab ip link del eth0.5; ip netns exec lab ip link add link br0 name br0.5 type vlan id 5; ip netns exec lab ip link set br0.5 master br05; ip netns exec lab ip link set br0.5 up"
        )
    }

    @Test func legOnAnUplinkInNoBridgeIsTheAccessLayout() throws {
        let wired = try WiredExample("access-mode")
        #expect(wired.observed.link(named: "eth0.5") != nil)
        #expect(wired.doctor().findings().isEmpty)
    }

    @Test func twoLegsOfOneVLANOnOneWire() throws {
        var wired = try WiredExample("mixed")
        wired.addLeg("eth0.10", parent: "eth0", vid: 10)
        let findings = wired.doctor().findings()
        let duplicate = try only(.duplicateVLANLeg, in: findings)
        #expect(duplicate.severity == .error)
        #expect(duplicate.links == ["br0.10", "eth0.10", "eth0"])
        #expect(duplicate.message.contains("eth0.10, on the port itself, takes every frame arriving from the wire; br0.10 receives none"))
        #expect(duplicate.fix == "keep the leg on the bridge: ip link del eth0.10")
        // br0.10 exists already: the seed-trouble fix only deletes the leg on the uplink.
        #expect(try only(.vlanLegOnBridgePort, in: findings).fix == "hang the leg off the bridge instead: ip link del eth0.10")
    }
}

@Suite("doctor: link states")
struct DoctorLinkStateTests {
    @Test func adminDownLinkOnAPath() throws {
        var wired = try WiredExample("mixed")
        wired.change("br0v5") {
            $0.adminUp = false
            $0.operState = "down"
        }
        let finding = try only(.linkDown, in: wired.doctor().findings())
        #expect(finding.severity == .error)
        #expect(finding.links == ["br0v5"])
        #expect(finding.fix == "ip link set br0v5 up")
    }

    @Test func tapWithoutCarrierAndLegBelowADownLink() throws {
        var wired = try WiredExample("mixed")
        wired.change("vnet5") { $0.operState = "down" }
        wired.change("br0.10") { $0.operState = "lowerlayerdown" }
        let findings = wired.doctor().findings().filter { $0.check == .linkDown }
        #expect(findings.map(\.links) == [["br0.10", "br0"], ["vnet5"]])
        #expect(findings.map(\.severity) == [.warning, .error])
        #expect(findings[1].message.contains("no guest holds the tap open"))
    }

    @Test func linksOffGuestPathsAreNotReported() throws {
        var wired = try WiredExample("vlan-aware")
        wired.observed.links.append(ObservedLink(index: 77, name: "virbr0", kind: "bridge", adminUp: false, operState: "down", bridge: BridgeInfo()))
        wired.observed.links.append(ObservedLink(index: 78, name: "eth9", adminUp: false, operState: "down"))
        #expect(wired.doctor().findings().isEmpty)
    }

    @Test(arguments: [("blocking", Finding.Severity.error), ("disabled", .error), ("listening", .warning), ("learning", .warning)])
    func portNotForwarding(state: String, severity: Finding.Severity) throws {
        var wired = try WiredExample("trunk-mode")
        wired.change("vnet2") { $0.port?.state = state }
        let finding = try only(.portNotForwarding, in: wired.doctor().findings())
        #expect(finding.severity == severity)
        #expect(finding.links == ["vnet2", "br0"])
        #expect(finding.message.contains("is \(state)"))
    }
}

@Suite("doctor: bridge netfilter")
struct DoctorNetfilterTests {
    @Test func sysctlsOnWhileBridgesCarryVLANs() throws {
        var wired = try WiredExample("mixed")
        wired.observed.bridgeNetfilter = BridgeNetfilterSysctls(values: [
            "bridge-nf-call-iptables": 1, "bridge-nf-call-ip6tables": 1, "bridge-nf-call-arptables": 0,
            "bridge-nf-filter-vlan-tagged": 1, "bridge-nf-filter-pppoe-tagged": 0,
        ])
        let finding = try only(.bridgeNetfilter, in: wired.doctor().findings())
        #expect(finding.severity == .warning)
        #expect(finding.links == ["br0", "br0v10", "br0v5"])
        #expect(finding.message.contains("VLAN-tagged frames too"))
        #expect(
            finding.fix?.hasPrefix(
                "sysctl -w net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-filter-vlan-tagged=0")
                == true)
    }

    @Test func perBridgeOption() throws {
        var wired = try WiredExample("vlan-aware")
        wired.change("br0") {
            $0.bridge?.nfCallIPTables = true
            $0.bridge?.nfCallARPTables = false
        }
        let finding = try only(.bridgeNetfilter, in: wired.doctor().findings())
        #expect(finding.links == ["br0"])
        #expect(finding.fix == "ip link set br0 type bridge nf_call_iptables 0 (or bridge-netfilter = \"off\" in vlanwire's config)")
    }

    @Test func aPlainBridgeWithoutVLANsIsNotReported() {
        let observed = ObservedState(
            complete: true,
            links: [
                ObservedLink(index: 2, name: "virbr0", kind: "bridge", bridge: BridgeInfo(nfCallIPTables: true))
            ], bridgeNetfilter: BridgeNetfilterSysctls(values: ["bridge-nf-call-iptables": 1]))
        let doctor = Doctor(observed: observed, topology: Topology.resolve(config: nil, observed: observed), guestSource: .libvirt)
        #expect(doctor.findings().isEmpty)
    }
}

@Suite("doctor: kernel and config")
struct DoctorKernelConfigTests {
    @Test func vlanAwareUplinkWithoutVLANFiltering() throws {
        var wired = try WiredExample("vlan-aware")
        wired.observed.capabilities = KernelCapabilities(vlan8021Q: true, bridgeVLANFiltering: false)
        let finding = try only(.kernelCapability, in: wired.doctor().findings())
        #expect(finding.severity == .error)
        #expect(finding.message.contains("lacks bridge VLAN filtering"))
        #expect(finding.links == ["br0", "eth0"])
    }

    @Test func accessVLANsWithout8021Q() throws {
        var wired = try WiredExample("access-mode")
        wired.observed.capabilities = KernelCapabilities(vlan8021Q: false, bridgeVLANFiltering: true)
        let finding = try only(.kernelCapability, in: wired.doctor().findings())
        #expect(finding.message.hasPrefix("access VLANs 1,5 on classic uplink eth0 need VLAN legs"))
        // A classic trunk needs no VLAN legs.
        var trunk = try WiredExample("trunk-mode")
        trunk.observed.capabilities = KernelCapabilities(vlan8021Q: false, bridgeVLANFiltering: false)
        #expect(trunk.doctor().findings().isEmpty)
    }

    @Test func missingUplinkAndUplinkOutsideItsBridge() throws {
        var wired = try WiredExample("trunk-mode")
        wired.change("eth0") {
            $0.master = nil
            $0.port = nil
        }
        let finding = try only(.uplinkWiring, in: wired.doctor().findings())
        #expect(finding.message.contains("uplink eth0 is in no bridge, not of its trunk bridge br0"))
        wired.observed.links.removeAll { $0.name == "eth0" }
        #expect(try only(.uplinkWiring, in: wired.doctor().findings()).message == "uplink eth0 does not exist")
    }

    @Test func vlanAwareBridgeWithFilteringOff() throws {
        var wired = try WiredExample("vlan-aware")
        wired.change("br0") { $0.bridge?.vlanFiltering = false }
        let finding = try only(.uplinkWiring, in: wired.doctor(guests: []).findings())
        #expect(finding.severity == .warning)
    }
}

@Suite("doctor: policies")
struct DoctorPolicyTests {
    static let classicAll = config(
        """
        [[uplink]]
        interface = "eth0"
        bridge = "br0"
        vlans = "1-4094"

        [[network]]
        name = "lan"
        uplink = "eth0"
        portgroups = { router = "trunk:1,5", all = "trunk:1-4094" }
        """)

    @Test func restrictedTrunkOnAClassicBridgeCannotBeEnforced() throws {
        let wired = try WiredExample("trunk-mode")
        let doctor = Doctor(
            observed: wired.observed, topology: Topology.resolve(config: Self.classicAll, observed: wired.observed),
            guests: wired.guests, guestSource: .libvirt)
        let findings = doctor.findings().filter { $0.check == .trunkOnClassicBridge }
        #expect(findings.map(\.severity) == [.warning, .error])
        #expect(findings[0].message.hasPrefix("portgroup router of network lan asks for trunk:1,5 on classic bridge br0"))
        #expect(findings[1].guest == "router1")
        #expect(findings[1].nic == "52:54:00:00:01:01")
        #expect(findings[1].message.contains("forwards every VLAN eth0 carries (1-4094) to every port"))
        #expect(findings[1].fix?.hasPrefix("make uplink eth0 (bridge br0) vlan-aware") == true)
        // Not reported twice as a generic refusal.
        #expect(!doctor.findings().contains { $0.check == .nicRefused })
    }

    @Test func otherRefusalsAreReportedAsTheHookWouldRefuse() throws {
        let wired = try WiredExample("vlan-aware")
        let guest = try domain(
            domainXML(
                name: "stray", nics: [("52:54:00:00:09:01", "br9", nil)],
                metadata: "<vw:interface mac='52:54:00:00:09:01'><vw:vlan tags='5'/></vw:interface>"))
        let finding = try only(.nicRefused, in: wired.doctor(guests: [guest]).findings())
        #expect(finding.severity == .error)
        #expect(finding.guest == "stray")
        #expect(finding.message.contains("br9 is neither a vlanwire trunk bridge nor an access bridge"))
    }

    @Test func libvirtVLANNextToVLANWireMetadata() throws {
        let wired = try WiredExample("vlan-aware")
        let guest = try domain(
            """
            <domain><name>both</name><metadata><vw:vlans xmlns:vw='urn:vlanwire:1'>
            <vw:interface mac='52:54:00:00:09:02'><vw:vlan tags='5'/></vw:interface></vw:vlans></metadata>
            <devices><interface type='bridge'><mac address='52:54:00:00:09:02'/><source bridge='br0'/>
            <vlan><tag id='7'/></vlan></interface></devices></domain>
            """)
        let finding = try only(.libvirtVLANAndMetadata, in: wired.doctor(guests: [guest]).findings())
        #expect(finding.severity == .warning)
        #expect(finding.message.contains("(tags 7) and vlanwire metadata (access:5)"))
    }

    /// A guest with libvirt's own `<vlan>` on a NIC of `bridge` (and `tap`, when given).
    private func nativeVLANGuest(bridge: String, tap: String? = nil, metadata: Bool = false) throws -> DomainDescription {
        try domain(
            """
            <domain><name>native1</name>\(metadata ? "<metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='52:54:00:00:09:03'><vw:vlan tags='10'/></vw:interface></vw:vlans></metadata>" : "")
            <devices><interface type='bridge'><mac address='52:54:00:00:09:03'/><source bridge='\(bridge)'/>\(tap.map { "<target dev='\($0)'/>" } ?? "")
            <vlan trunk='yes'><tag id='5'/><tag id='10'/></vlan></interface></devices></domain>
            """)
    }

    @Test func libvirtVLANOnABridgeWithoutFilteringDoesNothing() throws {
        let wired = try WiredExample("mixed")  // br0: classic, no vlan_filtering
        let finding = try only(.libvirtVLANWithoutFiltering, in: wired.doctor(guests: [nativeVLANGuest(bridge: "br0")]).findings())
        #expect(finding.severity == .warning)
        #expect(finding.guest == "native1")
        #expect(finding.nic == "52:54:00:00:09:03")
        #expect(finding.links == ["br0"])
        #expect(finding.message.hasPrefix("the NIC has libvirt's own <vlan> (tags 5,10) but bridge br0 has no vlan_filtering"))
        #expect(finding.message.contains("the guest gets every VLAN br0 carries, not only 5,10"))
        #expect(finding.fix?.contains("ip link set br0 type bridge vlan_filtering 1") == true)
    }

    @Test func libvirtVLANIsJudgedByTheBridgeTheTapIsIn() throws {
        let wired = try WiredExample("mixed")  // office1's tap vnet4 is in br0v10 (classic access bridge)
        let finding = try only(
            .libvirtVLANWithoutFiltering, in: wired.doctor(guests: [nativeVLANGuest(bridge: "br0", tap: "vnet4")]).findings())
        #expect(finding.links == ["br0v10", "vnet4"])
        #expect(finding.message.contains("libvirt writes the VLANs on tap vnet4 in br0v10"))
    }

    /// On a vlan-aware bridge libvirt's <vlan> is the NIC's policy: nothing to warn about (the guest
    /// is not running here, so only that is said), and drift from it is a mismatch (next test).
    @Test func libvirtVLANOnAVLANAwareBridgeIsAuditedAsItsPolicy() throws {
        let wired = try WiredExample("vlan-aware")
        let findings = wired.doctor(guests: [try nativeVLANGuest(bridge: "br0")]).findings().filter { $0.guest == "native1" }
        #expect(findings.map(\.check) == [.tapMissing], "\(findings)")
        #expect(findings.allSatisfy { $0.severity == .info })
    }

    /// app1's NIC as libvirt 11 would carry it: <vlan> 7 where vlanwire wired access 5. status names
    /// the drift with the policy's source; the hook's plan would put VLAN 7 back.
    @Test func driftFromLibvirtsVLANIsAMismatch() throws {
        let wired = try WiredExample("vlan-aware")
        let app1 = try domain(
            """
            <domain><name>app1</name><devices><interface type='bridge'><mac address='52:54:00:00:03:01'/><source bridge='br0'/>
            <target dev='vnet6'/><vlan><tag id='7'/></vlan></interface></devices></domain>
            """)
        let nic = try #require(GuestStatus.compare(app1, topology: wired.topology, observed: wired.observed).nics.first)
        #expect(nic.policy == .access(vid(7)) && nic.policySource == "libvirt <vlan>")
        #expect(nic.mismatches.map(\.kind) == [.vlansDiffer], "\(nic.mismatches)")
        let plan = try Planner(topology: wired.topology, observed: wired.observed).plan(app1, operation: .reconnect)
        #expect(plan.actions.contains { "\($0)".contains("bridge vlan add dev vnet6 vid 7 pvid untagged") }, "\(plan.actions)")
    }

    /// What libvirt does not express exactly on a Linux bridge stays libvirt's alone, and a <vlan>
    /// vlanwire could not wire never refuses a guest.
    @Test(arguments: [
        "<vlan trunk='yes'><tag id='1' nativeMode='tagged'/><tag id='5'/></vlan>",
        "<vlan><tag id='5'/><tag id='6'/></vlan>",
        "<vlan><tag id='4095'/></vlan>",
    ])
    func libvirtVLANVLANWireCannotTakeIsLeftToLibvirt(_ vlan: String) throws {
        let wired = try WiredExample("vlan-aware")
        let guest = try domain(
            "<domain><name>n</name><devices><interface type='bridge'><mac address='52:54:00:00:09:09'/><source bridge='br0'/>\(vlan)</interface></devices></domain>"
        )
        let plan = try Planner(topology: wired.topology, observed: wired.observed).plan(guest, operation: .start)
        #expect(plan.actions.isEmpty)
        #expect(plan.nics.first?.unmanagedReason == "carries libvirt's own <vlan>, which libvirt applies itself")
    }

    @Test func libvirtVLANAndMetadataOnABridgeWithoutFilteringGivesBothWarnings() throws {
        let wired = try WiredExample("mixed")
        let findings = wired.doctor(guests: [try nativeVLANGuest(bridge: "br0", metadata: true)]).findings()
        let checks = findings.filter { $0.guest == "native1" }.map(\.check)
        #expect(checks.count == 2)
        #expect(Set(checks) == [.libvirtVLANAndMetadata, .libvirtVLANWithoutFiltering])
    }

    @Test func unreadableGuestsAreErrors() throws {
        let wired = try WiredExample("vlan-aware")
        var doctor = wired.doctor()
        doctor.unreadableGuests = [Problem(guest: "bad", nic: "52:54:00:00:00:09", cause: "invalid VLAN id '4095'", fix: "use 1...4094")]
        let finding = try only(.guestUnreadable, in: doctor.findings())
        #expect(finding.severity == .error)
        #expect(finding.fix == "use 1...4094")
    }
}

@Suite("doctor: drift")
struct DoctorDriftTests {
    @Test func tapLeftInTheTrunkBridge() throws {
        var wired = try WiredExample("mixed")
        // office1's start hook did not run: its tap is where libvirt put it.
        wired.change("vnet4") { $0.master = "br0" }
        let finding = try only(.tapBridgeDrift, in: wired.doctor().findings())
        #expect(finding.severity == .error)
        #expect(finding.guest == "office1")
        #expect(finding.links == ["vnet4", "br0", "br0v10"])
        #expect(finding.message == "tap vnet4 is in br0, but its policy (access:10, from vlanwire metadata) puts it in br0v10")
        #expect(finding.fix == "vlanwire reconcile, or: ip link set vnet4 master br0v10")
        // br0v10 lost its only guest port, but office1 still needs it: not a leftover to delete,
        // even with vlanwire's state naming office1 as its user.
        let state = VLANWireState(guests: [
            GuestRecord(
                name: "office1",
                nics: [
                    NICRecord(
                        mac: mac("52:54:00:00:02:02"), policy: .access(vid(10)), bridge: link("br0v10"), uses: [link("br0v10"), link("br0.10")])
                ])
        ])
        #expect(!wired.doctor(state: state).findings().contains { $0.check == .unusedLink })
        var fromFiles = wired.doctor()
        fromFiles.guestSource = .notAsked(reason: "--no-libvirt")
        #expect(try only(.tapBridgeDrift, in: fromFiles.findings()).fix == "vlanwire apply on the guest's XML, or: ip link set vnet4 master br0v10")
    }

    @Test func tapWithOtherVLANsThanItsPolicy() throws {
        var wired = try WiredExample("vlan-aware")
        wired.change("vnet6") { $0.port?.vlans = PortVLANs(members: vset("5,7"), untagged: vset("5"), pvid: vid(5)) }
        let finding = try only(.portVLANDrift, in: wired.doctor().findings())
        #expect(finding.guest == "app1")
        #expect(finding.message.contains("it also gets VLANs 7"))
        #expect(finding.fix == "bridge vlan del dev vnet6 vid 7; bridge vlan add dev vnet6 vid 5 pvid untagged")
    }
}

@Suite("doctor: wiring the guests depend on")
struct DoctorWiringTests {
    @Test func accessBridgeWithGuestsButNoLeg() throws {
        var wired = try WiredExample("mixed")
        wired.observed.links.removeAll { $0.name == "br0.5" }
        let finding = try only(.accessBridgeWithoutLeg, in: wired.doctor().findings())
        #expect(finding.severity == .error)
        #expect(finding.links == ["br0v5", "vnet3"])
        #expect(
            finding.message
                == "access bridge br0v5 (VLAN 5 of eth0 (bridge br0)) has guest ports (vnet3) but no VLAN 5 leg feeds it: they are cut off from the wire"
        )
        #expect(
            finding.fix
                == "vlanwire reconcile re-creates it, or: ip link add link br0 name br0.5 type vlan id 5; ip link set br0.5 master br0v5; ip link set br0.5 up"
        )
    }

    @Test func uplinkWithoutAVLANOfAGuestsPolicy() throws {
        var wired = try WiredExample("vlan-aware")
        wired.change("eth0") { $0.port?.vlans = PortVLANs(members: vset("1-6,8-20"), untagged: vset("1"), pvid: vid(1)) }
        let finding = try only(.uplinkWiring, in: wired.doctor().findings())
        #expect(finding.severity == .error)
        #expect(finding.guest == "router1")
        #expect(finding.nic == "52:54:00:00:03:03")
        #expect(
            finding.message == "uplink eth0 does not carry VLAN 7 that the NIC's policy trunk:7-8 native:8 uses: those frames never reach the wire")
        #expect(finding.fix == "vlanwire reconcile, or: bridge vlan add dev eth0 vid 7")
    }
}

@Suite("doctor: leftovers and MTU")
struct DoctorLeftoverTests {
    @Test func accessBridgeWithoutGuestPorts() throws {
        var wired = try WiredExample("mixed")
        // app1 stopped without its release hook: its tap is gone, br0v5 and br0.5 stay.
        wired.observed.links.removeAll { $0.name == "vnet3" }
        let guests = wired.guests.filter { $0.name != "app1" }
        let finding = try only(.unusedLink, in: wired.doctor(guests: guests).findings())
        #expect(finding.severity == .warning)
        #expect(finding.links == ["br0v5", "br0.5"])
        #expect(finding.fix == "ip link del br0v5; ip link del br0.5")

        let state = VLANWireState(
            createdLinks: [CreatedLink(name: link("br0v5"), index: 1001, kind: "bridge")],
            guests: [
                GuestRecord(
                    name: "app1",
                    nics: [
                        NICRecord(
                            mac: mac("52:54:00:00:02:01"), policy: .access(vid(5)),
                            bridge: link("br0v5"), uses: [link("br0v5"), link("br0.5")])
                    ])
            ])
        let withState = try only(.unusedLink, in: wired.doctor(state: state, guests: guests).findings())
        #expect(withState.message.contains("vlanwire's state still lists app1 as using it"))
        #expect(withState.fix == "vlanwire release --guest app1")
    }

    @Test func markedLegFeedingNothing() throws {
        var wired = try WiredExample("mixed")
        wired.addLeg("br0.7", parent: "br0", vid: 7)
        wired.change("br0.7") { $0.alias = LinkMark.namespaceDefault.alias }
        let finding = try only(.unusedLink, in: wired.doctor().findings())
        #expect(finding.links == ["br0.7"])
        #expect(finding.message == "VLAN leg br0.7 was created by vlanwire and feeds no bridge")
    }

    @Test func unmarkedLinksAreNotVLANWiresToReport() throws {
        var wired = try WiredExample("mixed")
        wired.observed.links.append(ObservedLink(index: 95, name: "br9", kind: "bridge", bridge: BridgeInfo()))
        #expect(!wired.doctor().findings().contains { $0.check == .unusedLink })
    }

    @Test func legWithASmallerMTUThanBothEnds() throws {
        var wired = try WiredExample("mixed")
        wired.change("br0.5") { $0.mtu = 1400 }
        let finding = try only(.mtuBottleneck, in: wired.doctor().findings())
        #expect(finding.severity == .warning)
        #expect(finding.links == ["br0.5", "eth0", "vnet3"])
        #expect(finding.message.contains("frames up to 1500 bytes fit both ends but larger than 1400 are dropped in the middle"))
        #expect(finding.fix == "ip link set br0.5 mtu 1500")
    }

    /// An access bridge's uplink is its leg: a guest port that is not a tap (a veth) is still a guest port.
    @Test func bottleneckBeforeAGuestPortThatIsNotATap() throws {
        var wired = try WiredExample("mixed")
        wired.change("br0.5") { $0.mtu = 1400 }
        wired.change("vnet3") { $0.kind = "veth" }
        #expect(try only(.mtuBottleneck, in: wired.doctor().findings()).links == ["br0.5", "eth0", "vnet3"])
    }

    @Test func aSmallerEndIsNotABottleneck() throws {
        var wired = try WiredExample("mixed")
        wired.change("br0.5") { $0.mtu = 1400 }
        wired.change("vnet3") { $0.mtu = 1400 }
        #expect(wired.doctor().findings().isEmpty)
    }
}

@Suite("doctor: guests and the report")
struct DoctorReportTests {
    @Test func libvirtUnreachableIsInfoAndTheRestIsChecked() throws {
        var wired = try WiredExample("trunk-mode")
        wired.addLeg("eth0.5", parent: "eth0", vid: 5)
        let doctor = Doctor(observed: wired.observed, topology: wired.topology, guestSource: .unreachable(reason: "no socket"))
        let report = doctor.report()
        #expect(report.findings.map(\.check) == [.vlanLegOnBridgePort, .guests])
        #expect(report.findings.last?.severity == .info)
        #expect(report.findings.last?.message.contains("libvirt is not reachable (no socket)") == true)
        #expect(report.errors == 1 && report.warnings == 0 && report.infos == 1)
    }

    @Test func textIsATableWorstFirstWithFixes() throws {
        var wired = try WiredExample("trunk-mode")
        wired.addLeg("eth0.5", parent: "eth0", vid: 5)
        let report = Doctor(observed: wired.observed, topology: wired.topology, guestSource: .notAsked(reason: "--no-libvirt")).report()
        #expect(
            report.text == """
                SEVERITY  CHECK                    LINKS            FINDING
                error     vlan-leg-on-bridge-port  eth0.5,eth0,br0  eth0.5 (VLAN 5 leg on eth0) takes every VLAN 5 frame arriving on eth0 before bridge br0 sees it: br0's other ports (trunk guests) get no VLAN 5 from the wire, while what they send still leaves
                                                                    fix: hang the leg off the bridge instead: ip link del eth0.5; ip link add link br0 name br0.5 type vlan id 5; ip link set br0.5 up
                info      guests                   -                libvirt not asked (--no-libvirt): guest checks (drift, policies, metadata) need guests
                                                                    fix: give domain XML files with --xml (virsh dumpxml GUEST)
                2 findings: 1 error, 0 warnings, 1 info

                """)
    }

    @Test func reportSortsBySeverityKeepingCheckOrder() {
        let report = DoctorReport(findings: [
            Finding(.info, .guests, message: "a"), Finding(.error, .linkDown, message: "b"),
            Finding(.warning, .bridgeNetfilter, message: "c"), Finding(.error, .mtuBottleneck, message: "d"),
        ])
        #expect(report.findings.map(\.message) == ["b", "d", "c", "a"])
        #expect(DoctorReport(findings: [Finding(.warning, .unusedLink, message: "x")]).hasErrors == false)
    }
}

/// status and doctor read a NIC through one `NICAudit`: three cases where they used to disagree
/// (found by reading), each now said the same way by both.
@Suite("status and doctor agree on a NIC")
struct StatusAndDoctorAgreeTests {
    static let nic = "52:54:00:00:00:09"

    static func guest(metadata: String = "", target: String = "vnet9") throws -> DomainDescription {
        try domain(domainXML(name: "db1", nics: [(nic, "br0", target)], metadata: metadata))
    }

    func both(_ guest: DomainDescription, config: HostConfig? = nil, observed: ObservedState) -> (NICStatus, [Finding]) {
        let topology = Topology.resolve(config: config, observed: observed)
        let status = GuestStatus.compare(guest, topology: topology, observed: observed).nics[0]
        let findings = Doctor(observed: observed, topology: topology, guests: [guest], guestSource: .libvirt).findings()
            .filter { $0.guest == "db1" }
        return (status, findings)
    }

    /// A NIC without a policy whose tap is in another bridge: vlanwire does not move it, so
    /// reconcile does not fix it (doctor used to say it did).
    @Test func noPolicyTapInAnotherBridgeIsNotReconciles() throws {
        var observed = host(taps: [("vnet9", Self.nic, "br1")], extra: [ObservedLink(index: 50, name: "br1", kind: "bridge", bridge: BridgeInfo())])
        observed.links.sort { $0.index < $1.index }
        let (status, findings) = both(try Self.guest(), observed: observed)
        #expect(status.mismatches.map(\.kind) == [.wrongBridge] && status.mismatches[0].reconcileFixes == false)
        let finding = try #require(findings.first { $0.check == .tapBridgeDrift })
        #expect(finding.message.contains("the NIC has no policy, so vlanwire does not move it"), "\(finding)")
        #expect(finding.fix?.hasPrefix("ip link set vnet9 master br0") == true, "\(finding)")
    }

    /// An inferred vlan-aware uplink port without a VLAN the policy uses: both report it, and
    /// neither says reconcile fixes it (vlanwire does not manage an inferred uplink's VLANs;
    /// status used to say nothing).
    @Test func inferredUplinkWithoutThePolicysVLAN() throws {
        let observed = host(
            vlanFiltering: true, uplinkVLANs: PortVLANs(members: vset("1"), untagged: vset("1"), pvid: vid(1)),
            taps: [("vnet9", Self.nic, "br0")])
        var wired = KernelModel(state: observed)
        try wired.apply([
            .removePortVLANs(port: link("vnet9"), vlans: vset("1")),
            .addPortVLANs(port: link("vnet9"), vlans: PortVLANs(members: vset("5"), untagged: vset("5"), pvid: vid(5))),
        ])
        let (status, findings) = both(
            try Self.guest(metadata: "<vw:interface mac='\(Self.nic)'><vw:vlan tags='5'/></vw:interface>"),
            observed: wired.state)
        #expect(status.mismatches.map(\.kind) == [.uplinkVLANs] && status.mismatches[0].reconcileFixes == false, "\(status.mismatches)")
        let finding = try #require(findings.first { $0.check == .uplinkWiring })
        #expect(finding.fix == "bridge vlan add dev eth0 vid 5", "\(finding)")
    }

    /// `<target dev>` names another NIC's tap: status and doctor both say so, and both find the
    /// NIC's own tap by its MAC (doctor used to fall back without a word).
    @Test func targetDevWithAnotherNICsMAC() throws {
        let observed = host(taps: [("vnet9", Self.nic, "br0"), ("vnet3", "52:54:00:00:00:03", "br0")])
        let (status, findings) = both(
            try Self.guest(
                metadata: "<vw:interface mac='\(Self.nic)'><vw:vlan trunk='yes' tags='1-4094'/></vw:interface>",
                target: "vnet3"), observed: observed)
        #expect(status.mismatches.map(\.kind) == [.tapMAC] && status.tap == "vnet9" && status.tapFoundBy == .mac)
        let finding = try #require(findings.first { $0.check == .tapMAC })
        #expect(
            finding.message.hasPrefix("target dev vnet3 has MAC fe:54:00:00:00:03, not this NIC's tap MAC fe:54:00:00:00:09: the NIC's tap is vnet9"),
            "\(finding)")
    }
}
