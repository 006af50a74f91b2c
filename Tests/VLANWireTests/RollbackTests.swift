import Testing
import VLANWire
import VLANWireTestSupport

@Suite("Action.inverse(before:)")
struct RollbackTests {

    /// br0 (up, not filtering, nf_call on) with port t1 (pvid 7 untagged, 10-20 tagged); t0 free and down.
    static let before = ObservedState(
        complete: true,
        links: [
            ObservedLink(
                index: 2, name: "br0", kind: "bridge", bridge: BridgeInfo(nfCallIPTables: true, nfCallIP6Tables: true, nfCallARPTables: true)),
            ObservedLink(
                index: 3, name: "t1", kind: "tun", master: "br0",
                port: BridgePortInfo(vlans: PortVLANs(members: vset("7,10-20"), untagged: vset("7"), pvid: vid(7)))),
            ObservedLink(index: 4, name: "t0", kind: "tun", adminUp: false),
            ObservedLink(
                index: 5, name: "brM", kind: "bridge",
                bridge: BridgeInfo(nfCallIPTables: true, nfCallIP6Tables: false, nfCallARPTables: true)),
        ])

    @Test func creationsAreUndoneByDeleting() {
        #expect(Action.createBridge(BridgeSpec(name: link("brA"))).inverse(before: Self.before) == [.deleteLink(link("brA"))])
        #expect(
            Action.createVLANLeg(name: link("br0.5"), parent: link("br0"), vid: vid(5)).inverse(before: Self.before)
                == [.deleteLink(link("br0.5"))])
    }

    @Test func deletingCannotBeUndone() {
        #expect(Action.deleteLink(link("t0")).inverse(before: Self.before) == nil)
    }

    @Test func enslavingIsUndoneByReleasingOrByGoingBackWithTheOldVLANs() {
        #expect(
            Action.enslave(link: link("t0"), bridge: link("br0")).inverse(before: Self.before)
                == [.releaseFromBridge(link: link("t0"))])
        #expect(Action.enslave(link: link("t1"), bridge: link("br0")).inverse(before: Self.before) == [])
        let old = Self.before.link(named: "t1")!.port!.vlans!
        #expect(
            Action.enslave(link: link("t1"), bridge: link("brA")).inverse(before: Self.before) == [
                .enslave(link: link("t1"), bridge: link("br0")),
                .removePortVLANs(port: link("t1"), vlans: VLANSet.all.subtracting(old.members)),
                .addPortVLANs(port: link("t1"), vlans: old),
            ])
        #expect(
            Action.releaseFromBridge(link: link("t1")).inverse(before: Self.before)?.first
                == .enslave(link: link("t1"), bridge: link("br0")))
        #expect(Action.releaseFromBridge(link: link("t0")).inverse(before: Self.before) == [])
    }

    @Test func upAndDownAreUndoneOnlyWhenTheyChangedSomething() {
        #expect(Action.setUp(link("t0")).inverse(before: Self.before) == [.setDown(link("t0"))])
        #expect(Action.setUp(link("br0")).inverse(before: Self.before) == [])
        #expect(Action.setDown(link("br0")).inverse(before: Self.before) == [.setUp(link("br0"))])
        #expect(Action.setUp(link("new0")).inverse(before: Self.before) == [])
    }

    @Test func bridgeSwitchesGoBackToTheirOldValues() {
        #expect(
            Action.setVLANFiltering(bridge: link("br0"), enabled: true).inverse(before: Self.before)
                == [.setVLANFiltering(bridge: link("br0"), enabled: false)])
        #expect(Action.setVLANFiltering(bridge: link("br0"), enabled: false).inverse(before: Self.before) == [])
        #expect(
            Action.setBridgeNetfilter(bridge: link("br0"), enabled: false).inverse(before: Self.before)
                == [.setBridgeNetfilter(bridge: link("br0"), enabled: true)])
        #expect(Action.setBridgeNetfilter(bridge: link("brM"), enabled: false).inverse(before: Self.before) == nil)
    }

    @Test func addedPortVLANsAreRemovedAndOverwrittenFlagsRestored() {
        // access(30) on t1: 30 is new (removed again); the PVID moved from 7, so 7 gets its flags back.
        let inverse = Action.addPortVLANs(port: link("t1"), vlans: PortVLANs(policy: .access(vid(30))))
            .inverse(before: Self.before)
        #expect(
            inverse == [
                .removePortVLANs(port: link("t1"), vlans: vset("30")),
                .addPortVLANs(port: link("t1"), vlans: PortVLANs(members: vset("7"), untagged: vset("7"), pvid: vid(7))),
            ])
        // Re-adding 15-25 untagged: 21-25 removed, 15-20 back to tagged.
        let overlap = Action.addPortVLANs(port: link("t1"), vlans: PortVLANs(members: vset("15-25"), untagged: vset("15-25")))
            .inverse(before: Self.before)
        #expect(
            overlap == [
                .removePortVLANs(port: link("t1"), vlans: vset("21-25")),
                .addPortVLANs(port: link("t1"), vlans: PortVLANs(members: vset("15-20"))),
            ])
        // Not a port before the run: its release or deletion takes the VLANs away.
        #expect(Action.addPortVLANs(port: link("t0"), vlans: .kernelDefault).inverse(before: Self.before) == [])
    }

    @Test func removedPortVLANsComeBackWithTheirFlags() {
        #expect(
            Action.removePortVLANs(port: link("t1"), vlans: vset("1-8")).inverse(before: Self.before)
                == [.addPortVLANs(port: link("t1"), vlans: PortVLANs(members: vset("7"), untagged: vset("7"), pvid: vid(7)))])
        #expect(Action.removePortVLANs(port: link("t1"), vlans: vset("100")).inverse(before: Self.before) == [])
    }

    @Test func unknownPortVLANsCannotBeRestored() {
        let state = ObservedState(complete: true, links: [ObservedLink(index: 3, name: "t1", master: "br0", port: BridgePortInfo())])
        #expect(Action.removePortVLANs(port: link("t1"), vlans: vset("1")).inverse(before: state) == nil)
    }
}
