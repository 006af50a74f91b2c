import Testing
import VLANWire

@Suite("Action.inverse(before:)")
struct RollbackTests {
    static func name(_ text: String) -> LinkName { try! LinkName(text) }
    static func vlans(_ text: String) -> VLANSet { try! VLANSet(parsing: text) }
    static func vid(_ value: Int) -> VLANID { try! VLANID(value) }

    /// br0 (up, not filtering, nf_call on) with port t1 (pvid 7 untagged, 10-20 tagged); t0 free and down.
    static let before = ObservedState(complete: true, links: [
        ObservedLink(index: 2, name: "br0", kind: "bridge", bridge: BridgeInfo(nfCallIPTables: true, nfCallIP6Tables: true, nfCallARPTables: true)),
        ObservedLink(index: 3, name: "t1", kind: "tun", master: "br0",
                     port: BridgePortInfo(vlans: PortVLANs(members: vlans("7,10-20"), untagged: vlans("7"), pvid: vid(7)))),
        ObservedLink(index: 4, name: "t0", kind: "tun", adminUp: false),
        ObservedLink(index: 5, name: "brM", kind: "bridge",
                     bridge: BridgeInfo(nfCallIPTables: true, nfCallIP6Tables: false, nfCallARPTables: true)),
    ])

    @Test func creationsAreUndoneByDeleting() {
        #expect(Action.createBridge(BridgeSpec(name: Self.name("brA"))).inverse(before: Self.before) == [.deleteLink(Self.name("brA"))])
        #expect(Action.createVLANLeg(name: Self.name("br0.5"), parent: Self.name("br0"), vid: Self.vid(5)).inverse(before: Self.before)
            == [.deleteLink(Self.name("br0.5"))])
    }

    @Test func deletingCannotBeUndone() {
        #expect(Action.deleteLink(Self.name("t0")).inverse(before: Self.before) == nil)
    }

    @Test func enslavingIsUndoneByReleasingOrByGoingBackWithTheOldVLANs() {
        #expect(Action.enslave(link: Self.name("t0"), bridge: Self.name("br0")).inverse(before: Self.before)
            == [.releaseFromBridge(link: Self.name("t0"))])
        #expect(Action.enslave(link: Self.name("t1"), bridge: Self.name("br0")).inverse(before: Self.before) == [])
        let old = Self.before.link(named: "t1")!.port!.vlans!
        #expect(Action.enslave(link: Self.name("t1"), bridge: Self.name("brA")).inverse(before: Self.before) == [
            .enslave(link: Self.name("t1"), bridge: Self.name("br0")),
            .removePortVLANs(port: Self.name("t1"), vlans: VLANSet.all.subtracting(old.members)),
            .addPortVLANs(port: Self.name("t1"), vlans: old),
        ])
        #expect(Action.releaseFromBridge(link: Self.name("t1")).inverse(before: Self.before)?.first
            == .enslave(link: Self.name("t1"), bridge: Self.name("br0")))
        #expect(Action.releaseFromBridge(link: Self.name("t0")).inverse(before: Self.before) == [])
    }

    @Test func upAndDownAreUndoneOnlyWhenTheyChangedSomething() {
        #expect(Action.setUp(Self.name("t0")).inverse(before: Self.before) == [.setDown(Self.name("t0"))])
        #expect(Action.setUp(Self.name("br0")).inverse(before: Self.before) == [])
        #expect(Action.setDown(Self.name("br0")).inverse(before: Self.before) == [.setUp(Self.name("br0"))])
        #expect(Action.setUp(Self.name("new0")).inverse(before: Self.before) == [])
    }

    @Test func bridgeSwitchesGoBackToTheirOldValues() {
        #expect(Action.setVLANFiltering(bridge: Self.name("br0"), enabled: true).inverse(before: Self.before)
            == [.setVLANFiltering(bridge: Self.name("br0"), enabled: false)])
        #expect(Action.setVLANFiltering(bridge: Self.name("br0"), enabled: false).inverse(before: Self.before) == [])
        #expect(Action.setBridgeNetfilter(bridge: Self.name("br0"), enabled: false).inverse(before: Self.before)
            == [.setBridgeNetfilter(bridge: Self.name("br0"), enabled: true)])
        #expect(Action.setBridgeNetfilter(bridge: Self.name("brM"), enabled: false).inverse(before: Self.before) == nil)
    }

    @Test func addedPortVLANsAreRemovedAndOverwrittenFlagsRestored() {
        // access(30) on t1: 30 is new (removed again); the PVID moved from 7, so 7 gets its flags back.
        let inverse = Action.addPortVLANs(port: Self.name("t1"), vlans: PortVLANs(policy: .access(Self.vid(30))))
            .inverse(before: Self.before)
        #expect(inverse == [
            .removePortVLANs(port: Self.name("t1"), vlans: Self.vlans("30")),
            .addPortVLANs(port: Self.name("t1"), vlans: PortVLANs(members: Self.vlans("7"), untagged: Self.vlans("7"), pvid: Self.vid(7))),
        ])
        // Re-adding 15-25 untagged: 21-25 removed, 15-20 back to tagged.
        let overlap = Action.addPortVLANs(port: Self.name("t1"), vlans: PortVLANs(members: Self.vlans("15-25"), untagged: Self.vlans("15-25")))
            .inverse(before: Self.before)
        #expect(overlap == [
            .removePortVLANs(port: Self.name("t1"), vlans: Self.vlans("21-25")),
            .addPortVLANs(port: Self.name("t1"), vlans: PortVLANs(members: Self.vlans("15-20"))),
        ])
        // Not a port before the run: its release or deletion takes the VLANs away.
        #expect(Action.addPortVLANs(port: Self.name("t0"), vlans: .kernelDefault).inverse(before: Self.before) == [])
    }

    @Test func removedPortVLANsComeBackWithTheirFlags() {
        #expect(Action.removePortVLANs(port: Self.name("t1"), vlans: Self.vlans("1-8")).inverse(before: Self.before)
            == [.addPortVLANs(port: Self.name("t1"), vlans: PortVLANs(members: Self.vlans("7"), untagged: Self.vlans("7"), pvid: Self.vid(7)))])
        #expect(Action.removePortVLANs(port: Self.name("t1"), vlans: Self.vlans("100")).inverse(before: Self.before) == [])
    }

    @Test func unknownPortVLANsCannotBeRestored() {
        let state = ObservedState(complete: true, links: [ObservedLink(index: 3, name: "t1", master: "br0", port: BridgePortInfo())])
        #expect(Action.removePortVLANs(port: Self.name("t1"), vlans: Self.vlans("1")).inverse(before: state) == nil)
    }
}
