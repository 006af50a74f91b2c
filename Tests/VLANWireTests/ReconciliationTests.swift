import Foundation
import Testing
import VLANWireReports
import VLANWireTestSupport

@testable import VLANWire

/// `vlanwire reconcile`'s pure parts: the dry run, what becomes of the state, the report.
@Suite struct ReconciliationTests {
    let web = "52:54:00:00:00:01"
    let router = "52:54:00:00:00:02"
    let fullTrunk = "<vw:interface mac='52:54:00:00:00:02'><vw:vlan trunk='yes' tags='1-4094'/></vw:interface>"

    /// No config (inferred, classic): br0 with eth0, br1; router1's tap was moved to br1 by hand.
    var observed: ObservedState {
        host(
            taps: [("vnet0", web, "br0"), ("vnet1", router, "br1")],
            extra: [
                ObservedLink(index: 4, name: "br1", kind: "bridge", bridge: BridgeInfo()),
                ObservedLink(index: 5, name: "br0v7", kind: "bridge", alias: LinkMark.namespaceDefault.alias, bridge: BridgeInfo()),
            ])
    }

    func guests() throws -> [DomainDescription] {
        [
            try domain(domainXML(name: "web1", nics: [(web, "br0", "vnet0")])),
            try domain(domainXML(name: "router1", nics: [(router, "br0", "vnet1")], metadata: fullTrunk)),
        ]
    }

    @Test func dryRunPlansEachGuestAndRebuildsTheRecords() throws {
        // No state file: rebuilt from the kernel's marks, users unknown.
        let summary = Reconciliation.preview(
            try guests(), topology: Topology.resolve(config: nil, observed: observed),
            observed: observed, state: nil, mark: .namespaceDefault, everyRunningGuest: true)
        #expect(summary.dryRun && summary.stateRebuilt && summary.usersUnknownBefore && !summary.usersUnknown)
        #expect(summary.guests.map(\.status) == [.unchanged, .planned])
        #expect(summary.guests[1].actions == ["ip link set vnet1 master br0"])
        #expect(summary.recorded == ["router1"], "web1 has no policy: nothing to record")
        #expect(summary.state.createdLinks.map(\.name) == [link("br0v7")])
        #expect(summary.state.guest(named: "router1")?.nics.first?.tap == link("vnet1"))
        #expect(
            summary.text == """
                web1: nothing to change
                router1: 1 action to apply
                  1. ip link set vnet1 master br0
                  note: vnet1 moves from br1 to br0 (trunk:1-4094)
                state would be: 1 guest recorded; the state file is missing or unreadable; the users of br0v7 would be known again

                """)
    }

    @Test func usersStayUnknownWhenOnlySomeGuestsOrAFailure() throws {
        let topology = Topology.resolve(config: nil, observed: observed)
        let named = Reconciliation.preview(
            try guests(), topology: topology, observed: observed, state: nil, mark: .namespaceDefault, everyRunningGuest: false)
        #expect(named.usersUnknown)
        #expect(
            named.text.hasSuffix(
                "the users of br0v7 stay unknown, so they are not deleted (reconcile every running guest without failures to fix that)\n"))

        let bad = try domain(
            domainXML(
                name: "bad1", nics: [("52:54:00:00:00:09", "br0", "vnet9")],
                metadata: "<vw:interface mac='52:54:00:00:00:09'><vw:vlan trunk='yes' tags='5'/></vw:interface>"))
        let failed = Reconciliation.preview(
            try guests() + [bad], topology: topology, observed: observed, state: nil, mark: .namespaceDefault, everyRunningGuest: true)
        #expect(failed.usersUnknown)
        #expect(failed.guests.map(\.status) == [.unchanged, .planned, .failed])
        #expect(failed.failureLines.count == 1)
        #expect(failed.failureLines[0].hasPrefix("guest 'bad1', NIC 52:54:00:00:00:09: trunk:5 on classic bridge br0 cannot be enforced"))
        #expect(failed.text.hasSuffix("1 guest failed.\n"))

        // Guests whose XML could not be read count as failed too.
        let unreadable = Reconciliation.preview(
            try guests(), topology: topology, observed: observed, state: nil, mark: .namespaceDefault, everyRunningGuest: true,
            unreadable: [
                GuestReconcile(
                    guest: "db1", status: .failed,
                    problems: [Problem(guest: "db1", cause: "not running")])
            ])
        #expect(unreadable.usersUnknown)
        #expect(unreadable.failureLines == ["guest 'db1': not running"])
    }

    @Test func afterReconcileForgetsStoppedGuestsAndStaleLinks() throws {
        let state = VLANWireState(
            createdLinks: [
                CreatedLink(name: link("br0v7"), index: 5, kind: "bridge"),
                CreatedLink(name: link("br0v8"), index: 6, kind: "bridge"),  // gone
                CreatedLink(name: link("br1"), index: 99, kind: "bridge"),
            ],  // someone else's now
            guests: [
                GuestRecord(name: "router1", nics: [NICRecord(mac: mac(router), policy: nil, bridge: link("br0"), tap: link("vnet1"), tapIndex: 12)]),
                // Stopped while libvirtd was down: its tap is gone.
                GuestRecord(
                    name: "old1",
                    nics: [
                        NICRecord(
                            mac: mac("52:54:00:00:00:05"), policy: nil, bridge: link("br0"),
                            uses: [link("br0v7")], tap: link("vnet5"), tapIndex: 40)
                    ]),
                // Started after the guest list was taken: its tap exists.
                GuestRecord(name: "new1", nics: [NICRecord(mac: mac(web), policy: nil, bridge: link("br0"), tap: link("vnet0"), tapIndex: 11)]),
                // Its tap name now belongs to another link.
                GuestRecord(name: "reused1", nics: [NICRecord(mac: mac(web), policy: nil, bridge: link("br0"), tap: link("vnet0"), tapIndex: 77)]),
            ],
            usersUnknown: true)
        let (after, forgotten, stale) = state.afterReconcile(
            reconciled: ["router1"], failed: [], everyRunningGuest: true, observed: observed, mark: .namespaceDefault)
        #expect(forgotten == ["old1", "reused1"])
        #expect(after.guests.map(\.name) == ["router1", "new1"])
        #expect(stale == [link("br0v8"), link("br1")])
        #expect(after.createdLinks.map(\.name) == [link("br0v7")])
        #expect(!after.usersUnknown)

        // Named guests only: no record is forgotten and the users stay unknown.
        let (named, none, _) = state.afterReconcile(
            reconciled: ["router1"], failed: [], everyRunningGuest: false, observed: observed, mark: .namespaceDefault)
        #expect(none.isEmpty && named.guests.count == 4 && named.usersUnknown)
        // A failed guest keeps its record.
        let (kept, _, _) = state.afterReconcile(
            reconciled: [], failed: ["old1"], everyRunningGuest: true, observed: observed, mark: .namespaceDefault)
        #expect(kept.guests.map(\.name).contains("old1") && kept.usersUnknown)
    }

    @Test func guestLines() {
        let problem = Problem(guest: "r1", mac: mac(router), cause: "tap vnet1 is in br1, not br0", fix: "run `vlanwire doctor`")
        #expect(
            GuestReconcile(guest: "r1", status: .applied, actions: ["ip link set vnet1 master br0"]).text
                == "r1: 1 action applied\n  1. ip link set vnet1 master br0\n")
        #expect(
            GuestReconcile(guest: "r1", status: .failed, actions: ["a", "b"], problems: [problem]).text
                == "r1: FAILED\n  guest 'r1', NIC 52:54:00:00:00:02: tap vnet1 is in br1, not br0 — fix: run `vlanwire doctor`\n")
        #expect(GuestReconcile(guest: "r1", status: .unchanged).text == "r1: nothing to change\n")
    }

    @Test func summaryJSONHasEveryKey() throws {
        let summary = Reconciliation.preview(
            try guests(), topology: Topology.resolve(config: nil, observed: observed),
            observed: observed, state: .empty, mark: .namespaceDefault, everyRunningGuest: true)
        let decoded = try JSON.decode(ReconcileSummary.self, from: Array(JSON.encode(summary).utf8), what: "summary")
        #expect(decoded.guests == summary.guests && decoded.recorded == ["router1"] && !decoded.stateRebuilt)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(JSON.encode(summary).utf8)) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "dryRun", "guests", "recorded", "forgotten", "staleLinks", "createdLinks", "stateRebuilt",
                "usersUnknownBefore", "usersUnknown",
            ], "the state itself is not part of the report")
    }
}
