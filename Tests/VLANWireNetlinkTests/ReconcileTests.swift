import Foundation
import Logging
import Testing
import VLANWire
import VLANWireHost
import VLANWireNetlink
import VLANWireReports
import VLANWireTestSupport

/// `Wiring.reconcile` on the real kernel, in a throwaway namespace. This kernel has no 802.1Q and no
/// vlan_filtering: the drift here is a tap moved to another bridge by hand (the one wiring a plain
/// bridge kernel can do); VLAN drift is the lab's (Tests/Lab/scenarios/25-reconcile.sh).
@Suite(.enabled(if: Host.isRoot, Host.rootComment), .serialized)
struct ReconcileTests {
    let web = "52:54:00:00:00:01"
    let router = "52:54:00:00:00:02"

    /// br0 and br1 (no config: both inferred, classic); tap stand-ins vnet0 (web1's, in br0) and
    /// vnet1 (router1's, moved to br1 by hand); br0v7, a bridge carrying the mark of the test's state.
    func scene(faultInjection: FaultInjection = .none, _ body: (Scene, Wiring, String) throws -> Void) throws {
        try withScene { scene in
            let stateDirectory = scene.stateDirectory
            try scene.ip("link", "add", "br0", "type", "bridge")
            try scene.ip("link", "add", "br1", "type", "bridge")
            try scene.ip("link", "add", "br0v7", "type", "bridge")
            try scene.ip("link", "set", "br0v7", "alias", StateStore(directory: stateDirectory).mark.alias)
            try scene.ip("link", "add", "vnet0", "address", "fe:54:00:00:00:01", "type", "veth", "peer", "name", "g0")
            try scene.ip("link", "add", "vnet1", "address", "fe:54:00:00:00:02", "type", "veth", "peer", "name", "g1")
            try scene.ip("link", "set", "vnet0", "master", "br0")
            try scene.ip("link", "set", "vnet1", "master", "br1")
            let wiring = Wiring(
                namespace: try scene.namespace(), store: StateStore(directory: stateDirectory), config: nil,
                logger: scene.logger, faultInjection: faultInjection)
            try body(scene, wiring, stateDirectory)
        }
    }

    func guest(_ name: String, mac: String, tap: String, metadata: String = "") throws -> DomainDescription {
        let meta = metadata.isEmpty ? "" : "<metadata><vw:vlans xmlns:vw='urn:vlanwire:1'>\(metadata)</vw:vlans></metadata>"
        return try DomainDescription(
            xml: Array(
                """
                <domain type='kvm'><name>\(name)</name>\(meta)<devices>
                <interface type='bridge'><mac address='\(mac)'/><source bridge='br0'/><target dev='\(tap)'/></interface>
                </devices></domain>
                """.utf8), guestHint: name)
    }

    var web1: DomainDescription { get throws { try guest("web1", mac: web, tap: "vnet0") } }
    var router1: DomainDescription {
        get throws {
            try guest(
                "router1", mac: router, tap: "vnet1",
                metadata: "<vw:interface mac='\(router)'><vw:vlan trunk='yes' tags='1-4094'/></vw:interface>")
        }
    }

    @Test func movesTheTapBackAndRebuildsTheState() throws {
        try scene { scene, wiring, directory in
            let refused = try guest(
                "bad1", mac: "52:54:00:00:00:09", tap: "vnet9",
                metadata: "<vw:interface mac='52:54:00:00:00:09'><vw:vlan trunk='yes' tags='5'/></vw:interface>")
            // No state file: rebuilt from the marks (br0v7), users unknown. One guest fails; the others go on.
            let first = try wiring.reconcile([refused, try web1, try router1], everyRunningGuest: true)
            #expect(first.guests.map(\.status) == [.failed, .unchanged, .applied])
            #expect(first.guests[2].actions == ["ip link set vnet1 master br0"])
            #expect(first.failureLines.count == 1 && first.failureLines[0].hasPrefix("guest 'bad1', NIC 52:54:00:00:00:09:"))
            #expect(try scene.handle().snapshot().link(named: "vnet1")?.master == "br0")
            var state = try storedState(directory)
            #expect(state.usersUnknown, "a running guest failed: its links' users are still unknown")
            #expect(state.guests.map(\.name) == ["router1"])
            #expect(state.createdLinks.map(\.name.rawValue) == ["br0v7"])

            // Every running guest, no failure: the users are known again; nothing left to change.
            let second = try wiring.reconcile([try web1, try router1], everyRunningGuest: true)
            #expect(second.guests.map(\.status) == [.unchanged, .unchanged])
            #expect(second.usersUnknownBefore && !second.usersUnknown && !second.stateRebuilt)
            state = try storedState(directory)
            #expect(!state.usersUnknown)
            let nic = try #require(state.guest(named: "router1")?.nics.first)
            #expect(nic.tap == link("vnet1") && nic.bridge == link("br0"))
            #expect(nic.tapIndex == (try scene.handle().snapshot().link(named: "vnet1")?.index))

            // Now a release may delete br0v7: nothing uses it.
            let release = wiring.release(guest: "router1")
            #expect(release.plan.deletions == [link("br0v7")])
            #expect(try scene.handle().snapshot().link(named: "br0v7") == nil)
        }
    }

    /// A marked link missing from a stored state (a run SIGKILLed between creating it and storing the
    /// state) is adopted by reconcile as by the hook, so a later release can delete it.
    @Test func aMarkedLinkTheStateLacksIsAdopted() throws {
        try scene { scene, wiring, directory in
            _ = try wiring.reconcile([try web1, try router1], everyRunningGuest: true)
            #expect(try storedState(directory).created(link("br0v8")) == nil)
            try scene.ip("link", "add", "br0v8", "type", "bridge")
            try scene.ip("link", "set", "br0v8", "alias", wiring.store.mark.alias)
            _ = try wiring.reconcile([try web1, try router1], everyRunningGuest: true)
            #expect(try storedState(directory).created(link("br0v8")) != nil)
        }
    }

    @Test func aStoppedGuestsRecordIsForgotten() throws {
        try scene { scene, wiring, directory in
            _ = try wiring.reconcile([try web1, try router1], everyRunningGuest: true)
            // router1 stops while nobody listens (its tap goes); web1 remains.
            try scene.ip("link", "del", "vnet1")
            let summary = try wiring.reconcile([try web1], everyRunningGuest: true)
            #expect(summary.forgotten == ["router1"])
            #expect(try storedState(directory).guests.isEmpty)
            #expect(summary.text.contains("forgets router1 (not running)"))
        }
    }

    @Test func namedGuestsLeaveTheOthersAlone() throws {
        try scene { scene, wiring, directory in
            _ = try wiring.reconcile([try router1], everyRunningGuest: false)
            let state = try storedState(directory)
            #expect(state.guests.map(\.name) == ["router1"])
            #expect(state.usersUnknown, "only some guests were reconciled")
            #expect(try scene.handle().snapshot().link(named: "vnet1")?.master == "br0")
        }
    }

    @Test func aFailedActionIsUndoneAndTheStateKeepsTheOldRecord() throws {
        try scene(faultInjection: .failAction(0)) { scene, wiring, directory in
            let before = try scene.handle().snapshot()
            let summary = try wiring.reconcile([try router1, try web1], everyRunningGuest: true)
            #expect(summary.guests.map(\.status) == [.failed, .unchanged])
            #expect(summary.failureLines.first?.contains("could not wire the guest") == true, "\(summary.failureLines)")
            #expect(try scene.handle().snapshot().link(named: "vnet1")?.master == before.link(named: "vnet1")?.master)
            #expect(try storedState(directory).guest(named: "router1") == nil)
        }
    }
}
