import Foundation
import Testing
import VLANWire
import VLANWireLibvirt
import VLANWireReports
import VLANWireTemplates
import VLANWireTestSupport

@Suite("set-port on libvirt's test driver")
struct TestDriverSetPortTests {
    static let web1 = "52:54:00:00:00:01"  // bridge
    static let router = "52:54:00:00:00:02"  // network + portgroup, has a metadata entry
    static let macvtap = "52:54:00:00:00:03"  // direct
    static let ovs = "52:54:00:00:00:04"  // Open vSwitch port
    static let native = "52:54:00:00:00:05"  // libvirt's own <vlan>

    /// `run1` runs (the test driver starts the domains of a node file) with five NICs and an
    /// existing entry for `router`; `off1` is shut off.
    static let node = """
        <node>
          <domain type='test'>
            <name>run1</name>
            <uuid>3f3e3b5a-0c1d-4a43-9a38-0d6c0d7a4a01</uuid>
            <memory>65536</memory>
            <os><type>hvm</type></os>
            <metadata>
              <vw:vlans xmlns:vw="urn:vlanwire:1">
                <vw:interface mac="\(router)"><vw:vlan trunk="yes" tags="1,5" native="1"/></vw:interface>
              </vw:vlans>
            </metadata>
            <devices>
              <interface type='bridge'><mac address='\(web1)'/><source bridge='br0'/></interface>
              <interface type='network'><mac address='\(router)'/><source network='lan' portgroup='router'/></interface>
              <interface type='direct'><mac address='\(macvtap)'/><source dev='eth0' mode='bridge'/></interface>
              <interface type='bridge'><mac address='\(ovs)'/><source bridge='ovsbr0'/><virtualport type='openvswitch'/></interface>
              <interface type='bridge'><mac address='\(native)'/><source bridge='br0'/><vlan><tag id='7'/></vlan></interface>
            </devices>
          </domain>
          <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
            <name>off1</name>
            <memory>65536</memory>
            <os><type>hvm</type></os>
            <devices>
              <interface type='bridge'><mac address='\(web1)'/><source bridge='br0'/></interface>
            </devices>
            <test:runstate>5</test:runstate>
          </domain>
        </node>
        """

    func mac(_ text: String) throws -> MACAddress { try MACAddress(parsing: text) }
    func policy(_ text: String) throws -> PortPolicy { try PortPolicy(parsing: text) }

    /// The guest's vlanwire metadata as libvirt has it, persistent and live (raw text).
    func metadata(_ connection: LibvirtConnection, _ guest: String) throws -> (persistent: String?, live: String?) {
        let domain = try connection.domain(named: guest)
        return (try domain.metadata(scope: .config), try domain.isActive() ? domain.metadata(scope: .live) : nil)
    }

    func policies(_ connection: LibvirtConnection, _ guest: String, _ form: LibvirtXMLForm) throws -> [MACAddress: PortPolicy] {
        try connection.domain(named: guest).domainDescription(form).metadata
    }

    @Test func setsThePersistentDefinitionKeepingOtherEntries() throws {
        let connection = try privateTestDriver(Self.node)
        let change = try connection.setPort(
            guest: "run1", mac: mac(Self.web1), request: .set(policy("5")), live: false,
            templates: XMLTemplates())
        #expect(
            change
                == PortChange(
                    guest: "run1", mac: try mac(Self.web1), policy: try policy("5"), previous: nil,
                    persistent: .updated, live: .notRequested, running: true))
        #expect(
            try policies(connection, "run1", .inactive)
                == [try mac(Self.web1): try policy("5"), try mac(Self.router): try policy("trunk:1,5 native:1")])
        // The running guest's live definition is not touched without --live.
        #expect(try policies(connection, "run1", .current) == [try mac(Self.router): try policy("trunk:1,5 native:1")])
        #expect(
            change.description == """
                run1, NIC 52:54:00:00:00:01: access:5 (was no vlanwire policy)
                persistent definition: updated; live definition: not changed (the running guest keeps its ports until restarted; --live changes it now)
                """)
        // Entries are written in the order of the guest's NICs, unprefixed as libvirt wants.
        #expect(
            try metadata(connection, "run1").persistent == """
                <vlans>
                  <interface mac="52:54:00:00:00:01"><vlan tags="5"/></interface>
                  <interface mac="52:54:00:00:00:02"><vlan trunk="yes" tags="1,5" native="1"/></interface>
                </vlans>
                """)
    }

    /// A native-tagged trunk (issue 17) is written with native-mode="tagged" and read back as one.
    @Test func writesANativeTaggedTrunk() throws {
        let connection = try privateTestDriver(Self.node)
        let change = try connection.setPort(
            guest: "run1", mac: mac(Self.router), request: .set(policy("trunk:1,10 native-tagged:1")), live: true,
            templates: XMLTemplates())
        #expect(change.previous == (try policy("trunk:1,5 native:1")))
        #expect(change.description.hasPrefix("run1, NIC 52:54:00:00:00:02: trunk:1,10 native-tagged:1 (was trunk:1,5 native:1)"))
        for form in [LibvirtXMLForm.inactive, .current] {
            #expect(try policies(connection, "run1", form)[try mac(Self.router)] == .trunk(tagged: vset("10"), native: vid(1), nativeMode: .tagged))
        }
        #expect(try metadata(connection, "run1").persistent?.contains(#"<vlan trunk="yes" tags="1,10" native="1" native-mode="tagged"/>"#) == true)
    }

    /// The library writes the metadata; re-applying the ports is the CLI's (it needs the kernel), and
    /// what that did is printed after the two lines.
    @Test func liveChangesTheRunningDefinitionToo() throws {
        let connection = try privateTestDriver(Self.node)
        let change = try connection.setPort(
            guest: "run1", mac: mac(Self.router), request: .set(policy("trunk:1,5,10-20 native:1")),
            live: true, templates: XMLTemplates())
        #expect(change.persistent == .updated)
        #expect(change.live == .updated)
        #expect(change.previous == (try policy("trunk:1,5 native:1")))
        #expect(change.reapplied == nil)
        #expect(change.description.hasSuffix("persistent definition: updated; live definition: updated"))
        var reapplied = change
        reapplied.reapplied = GuestReconcile(guest: "run1", status: .applied, actions: ["ip link set vnet1 master br0"])
        #expect(
            reapplied.description.hasSuffix(
                """

                persistent definition: updated; live definition: updated
                running guest: 1 action applied
                  1. ip link set vnet1 master br0
                """))
        reapplied.reapplied = GuestReconcile(guest: "run1", status: .unchanged)
        #expect(reapplied.description.hasSuffix("live definition: updated\nrunning guest: nothing to change"))
        for form in [LibvirtXMLForm.inactive, .current] {
            #expect(try policies(connection, "run1", form) == [try mac(Self.router): try policy("trunk:1,5,10-20 native:1")])
        }
        // Again: nothing to write anywhere.
        let again = try connection.setPort(
            guest: "run1", mac: mac(Self.router), request: .set(policy("trunk:1,5,10-20 native:1")),
            live: true, templates: XMLTemplates())
        #expect(again.persistent == .unchanged)
        #expect(again.live == .unchanged)
    }

    @Test func liveOnAStoppedGuestChangesThePersistentDefinitionOnly() throws {
        let connection = try privateTestDriver(Self.node)
        let change = try connection.setPort(
            guest: "off1", mac: mac(Self.web1), request: .set(policy("trunk:5,6")), live: true,
            templates: XMLTemplates())
        #expect(change.live == .notRunning)
        #expect(!change.running)
        #expect(try policies(connection, "off1", .inactive) == [try mac(Self.web1): try policy("trunk:5,6")])
    }

    @Test func clearingTheLastEntryRemovesTheElement() throws {
        let connection = try privateTestDriver(Self.node)
        let change = try connection.setPort(guest: "run1", mac: mac(Self.router), request: .clear, live: true, templates: XMLTemplates())
        #expect(change.policy == nil)
        #expect(change.description.hasPrefix("run1, NIC 52:54:00:00:00:02: no vlanwire policy (was trunk:1,5 native:1)\n"))
        #expect(try metadata(connection, "run1").persistent == nil)
        #expect(try metadata(connection, "run1").live == nil)
        // Clearing what is not there writes nothing.
        let again = try connection.setPort(guest: "run1", mac: mac(Self.web1), request: .clear, live: true, templates: XMLTemplates())
        #expect(again.persistent == .unchanged && again.live == .unchanged)
    }

    @Test func guestsAreFoundByUUIDToo() throws {
        let connection = try privateTestDriver(Self.node)
        let change = try connection.setPort(
            guest: "3f3e3b5a-0c1d-4a43-9a38-0d6c0d7a4a01", mac: mac(Self.web1),
            request: .set(policy("5")), live: false, templates: XMLTemplates())
        #expect(change.guest == "run1")
    }

    /// Each refusal: one line naming guest, MAC and cause; both definitions' metadata unchanged.
    @Test(arguments: [
        (
            "web9", web1, "access:5",
            "guest 'web9', NIC 52:54:00:00:00:01: no such guest on test:///… — fix: virsh -c test:///… list --all lists the guests"
        ),
        (
            "run1", macvtap, "access:5",
            "guest 'run1', NIC 52:54:00:00:00:03: a type='direct' interface is not a Linux bridge port, so vlanwire does not wire it — fix: use <interface type='bridge'> or type='network'"
        ),
        (
            "run1", ovs, "trunk:1,5",
            "guest 'run1', NIC 52:54:00:00:00:04: the NIC has <virtualport type='openvswitch'>: its switch applies VLANs itself — fix: set the VLANs with libvirt's own <vlan> in the interface"
        ),
        (
            "run1", native, "access:5",
            "guest 'run1', NIC 52:54:00:00:00:05: the NIC carries libvirt's own <vlan>, which takes precedence over vlanwire's metadata — fix: remove the <vlan> element from the interface (virsh edit run1), then set the port"
        ),
    ])
    func refusalsWriteNothing(guest: String, nic: String, request: String, message: String) throws {
        let connection = try privateTestDriver(Self.node)
        let before = try metadata(connection, "run1")
        let refusal = try #require(throws: Refusal.self) {
            try connection.setPort(guest: guest, mac: mac(nic), request: .set(policy(request)), live: true, templates: XMLTemplates())
        }
        let line = refusal.description.replacing(/test:\/\/\/[^ ]*node\.xml/, with: "test:///…")
        #expect(line == message)
        #expect(!refusal.description.contains("\n"))
        let after = try metadata(connection, "run1")
        #expect(after.persistent == before.persistent)
        #expect(after.live == before.live)
    }

    /// A MAC the guest has no NIC for is a pending policy (for a NIC to be hot-plugged): set-port
    /// writes it and says so, and later edits of other NICs keep it.
    @Test func aPolicyForAMACWithoutANICIsPendingAndKept() throws {
        let connection = try privateTestDriver(Self.node)
        let change = try connection.setPort(
            guest: "run1", mac: mac("52:54:00:00:00:77"), request: .set(policy("30")), live: false,
            templates: XMLTemplates())
        #expect(change.pending && change.persistent == .updated)
        #expect(change.description.contains("pending: the guest has no NIC with this MAC yet"), "\(change)")
        let other = try connection.setPort(
            guest: "run1", mac: mac(Self.web1), request: .set(policy("5")), live: false,
            templates: XMLTemplates())
        #expect(!other.pending)
        let domain = try connection.domain(named: "run1").domainDescription(.inactive)
        let pending = try mac("52:54:00:00:00:77")
        #expect(domain.metadata[pending] == (try policy("30")), "kept by the second edit")
        #expect(domain.pendingPolicies.map(\.mac) == [pending])
        let cleared = try connection.setPort(
            guest: "run1", mac: mac("52:54:00:00:00:77"), request: .clear, live: false,
            templates: XMLTemplates())
        #expect(cleared.persistent == .updated)
        #expect(try connection.domain(named: "run1").domainDescription(.inactive).pendingPolicies.isEmpty)
    }

    @Test func aTemplateThatDoesNotReadBackIsRefusedBeforeWriting() throws {
        let connection = try privateTestDriver(Self.node)
        let directory = try TemporaryDirectory()
        // Forgets the native VLAN.
        try directory.write(
            "metadata.xml.mustache",
            "<vlans>{{#interfaces}}<interface mac='{{mac}}'><vlan{{#trunk}} trunk='yes'{{/trunk}} tags='{{tags}}'/></interface>{{/interfaces}}</vlans>"
        )
        let before = try metadata(connection, "run1")
        let refusal = try #require(throws: Refusal.self) {
            try connection.setPort(
                guest: "run1", mac: mac(Self.web1), request: .set(policy("5")), live: true,
                templates: XMLTemplates(overrideDirectory: directory.path))
        }
        #expect(refusal.description.hasPrefix("guest 'run1', NIC 52:54:00:00:00:01: the metadata template's output reads back as "))
        #expect(refusal.description.hasSuffix("not as intended; nothing written — fix: check metadata.xml.mustache in the template directory"))
        let after = try metadata(connection, "run1")
        #expect(after.persistent == before.persistent && after.live == before.live)
    }

    @Test func editKeepsNICOrderAndDropsEntriesCleared() throws {
        let domain = try DomainDescription(
            xml: Array(
                """
                <domain><name>g</name><devices>
                  <interface type='bridge'><mac address='52:54:00:00:00:03'/><source bridge='br0'/></interface>
                  <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface>
                </devices><metadata><vw:vlans xmlns:vw='urn:vlanwire:1'>
                  <vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface>
                </vw:vlans></metadata></domain>
                """.utf8))
        let edit = try domain.portMetadataEdit(mac: mac("52:54:00:00:00:03"), request: .set(policy("trunk:1-3")))
        #expect(
            edit.entries == [
                PortEntry(mac: try mac("52:54:00:00:00:03"), policy: try policy("trunk:1-3")),
                PortEntry(mac: try mac("52:54:00:00:00:01"), policy: try policy("5")),
            ])
        #expect(edit.changesMetadata)
        let clear = try domain.portMetadataEdit(mac: mac("52:54:00:00:00:01"), request: .clear)
        #expect(clear.entries.isEmpty)
        #expect(clear.element(templates: try XMLTemplates()) == nil)
        #expect(try !domain.portMetadataEdit(mac: mac("52:54:00:00:00:01"), request: .set(policy("access:5"))).changesMetadata)
    }

    @Test func jsonHasEveryKey() throws {
        let change = PortChange(
            guest: "web1", mac: try mac(Self.web1), policy: nil, previous: try policy("5"),
            persistent: .updated, live: .notRunning, running: false)
        #expect(
            JSON.encode(change, pretty: false)
                == #"{"guest":"web1","live":"not-running","mac":"52:54:00:00:00:01","pending":false,"persistent":"updated","policy":null,"previous":"access:5","reapplied":null,"running":false}"#
        )
    }
}
