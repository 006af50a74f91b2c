import Testing
import VLANWire
import VLANWireLibvirt
import VLANWireNetlink
import VLANWireTestSupport
import VLANWireWatch

/// Which guests a change concerns (pure): taps and links from the state's records, hot-plugged
/// taps by their MAC, libvirt's events by guest.
struct WatchRouterTests {

    /// web1: access NIC on br0v5 (leg br0.5), tap vnet0 (ifindex 10); router1: trunk NIC on br0, tap vnet1 (11).
    static let state = VLANWireState(guests: [
        GuestRecord(
            name: "web1",
            nics: [
                NICRecord(
                    mac: mac("52:54:00:00:00:01"), policy: .access(try! VLANID(5)), bridge: link("br0v5"),
                    uses: [link("br0v5"), link("br0.5")], tap: link("vnet0"), tapIndex: 10)
            ]),
        GuestRecord(
            name: "router1",
            nics: [
                NICRecord(
                    mac: mac("52:54:00:00:00:02"), policy: nil, bridge: link("br0"),
                    tap: link("vnet1"), tapIndex: 11)
            ]),
    ])

    static func domain(_ name: String, macs: [String]) throws -> DomainDescription {
        let nics = macs.map { "<interface type='bridge'><mac address='\($0)'/><source bridge='br0'/></interface>" }.joined()
        return try DomainDescription(xml: Array("<domain><name>\(name)</name><devices>\(nics)</devices></domain>".utf8), guestHint: name)
    }

    @Test func aRecordedTapOrLinkFindsItsGuests() {
        var router = WatchRouter()
        router.learn(Self.state)
        #expect(router.route(LinkMonitor.Change(index: 10, name: "vnet0", masterIndex: 3, mac: nil, removed: false)).guests == ["web1"])
        // A bridge VLAN notice carries only the index.
        #expect(router.route(LinkMonitor.Change(index: 11, name: nil, masterIndex: nil, mac: nil, removed: false)).guests == ["router1"])
        // The access bridge deleted, its leg changed, the trunk bridge changed: whoever uses them.
        #expect(router.route(LinkMonitor.Change(index: 20, name: "br0v5", masterIndex: nil, mac: nil, removed: true)).guests == ["web1"])
        #expect(router.route(LinkMonitor.Change(index: 21, name: "br0.5", masterIndex: 20, mac: nil, removed: false)).guests == ["web1"])
        #expect(router.route(LinkMonitor.Change(index: 2, name: "br0", masterIndex: nil, mac: nil, removed: false)).guests == ["router1"])
        // An ifindex learned from an earlier announcement names it later.
        _ = router.route(LinkMonitor.Change(index: 30, name: "br0.5", masterIndex: nil, mac: nil, removed: false))
        #expect(router.route(LinkMonitor.Change(index: 30, name: nil, masterIndex: nil, mac: nil, removed: false)).guests == ["web1"])
    }

    @Test func anUnknownLibvirtTapIsAHotPlug() throws {
        var router = WatchRouter()
        router.learn(Self.state)
        let tap = mac("fe:54:00:00:00:09")
        let unknown = router.route(LinkMonitor.Change(index: 40, name: "vnet9", masterIndex: 2, mac: tap, removed: false))
        #expect(unknown.guests.isEmpty && unknown.rescan && unknown.unknownTapMACs == [tap])
        // Once the running guests are known, the tap's guest is named directly.
        router.learn(running: [try Self.domain("db1", macs: ["52:54:00:00:00:09"])])
        #expect(router.route(LinkMonitor.Change(index: 40, name: "vnet9", masterIndex: 2, mac: tap, removed: false)) == WatchWork(guests: ["db1"]))
        // Not libvirt's (no fe:/fa: MAC): a container's veth, the admin's NIC: nothing to do.
        #expect(router.route(LinkMonitor.Change(index: 41, name: "veth0", masterIndex: 2, mac: mac("02:00:00:00:00:01"), removed: false)).isEmpty)
        // A guest that stopped is forgotten: its MAC is unknown again.
        _ = router.route(DomainEvent(guest: "db1", uuid: nil, kind: .lifecycle(.stopped)))
        #expect(router.route(LinkMonitor.Change(index: 40, name: "vnet9", masterIndex: 2, mac: tap, removed: false)).rescan)
    }

    @Test func libvirtEventsNameTheirGuest() {
        var router = WatchRouter()
        #expect(router.route(DomainEvent(guest: "web1", uuid: nil, kind: .deviceAdded(alias: "net1"))).guests == ["web1"])
        #expect(router.route(DomainEvent(guest: "web1", uuid: nil, kind: .deviceRemoved(alias: "net1"))).guests == ["web1"])
        #expect(router.route(DomainEvent(guest: "web1", uuid: nil, kind: .metadataChanged(namespace: "urn:vlanwire:1"))).guests == ["web1"])
        #expect(router.route(DomainEvent(guest: "web1", uuid: nil, kind: .metadataChanged(namespace: "urn:example:other"))).isEmpty)
        #expect(router.route(DomainEvent(guest: "web1", uuid: nil, kind: .metadataChanged(namespace: nil))).isEmpty, "description or title")
        #expect(router.route(DomainEvent(guest: "web1", uuid: nil, kind: .lifecycle(.started))).guests == ["web1"])
        #expect(router.route(DomainEvent(guest: "web1", uuid: nil, kind: .lifecycle(.suspended))).isEmpty)
    }

    @Test func workMerges() {
        var work = WatchWork(guests: ["a"])
        work.merge(WatchWork(guests: ["b"], unknownTapMACs: [mac("fe:00:00:00:00:01")]))
        work.merge(WatchWork(everything: true))
        #expect(work.guests == ["a", "b"] && work.rescan && work.everything && work.unknownTapMACs.count == 1)
    }
}
