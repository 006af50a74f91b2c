import Testing
import VLANWireTestSupport

@testable import VLANWire
@testable import VLANWireReports

/// `vlanwire export-native` on the seed's scenarios: NICs on a vlan-aware bridge move to libvirt's
/// own <vlan> (exactly their port VLANs); classic layouts, classic trunks and native-tagged trunks stay.
@Suite struct NativeExportTests {
    func export(_ example: String, _ guest: String) throws -> NativeExport {
        let wired = try WiredExample(example)
        return NativeExport.export(wired.guest(guest), topology: wired.topology, observed: wired.observed)
    }

    @Test func anAccessPortOnAVLANAwareBridgeMoves() throws {
        let export = try export("vlan-aware", "app1")
        #expect(export.nics.map(\.vlan) == ["<vlan>\n  <tag id='5'/>\n</vlan>"])
        #expect(export.notes.contains { $0.contains("eth0 (port of br0) must keep carrying VLANs 5") })
    }

    @Test func aTrunkGetsOneTagPerVLANAndItsNativeUntagged() throws {
        let export = try export("vlan-aware", "router1")
        let vlan = try #require(export.nics.first?.vlan)
        #expect(vlan.hasPrefix("<vlan trunk='yes'>\n  <tag id='1' nativeMode='untagged'/>\n  <tag id='5'/>\n  <tag id='10'/>"))
        #expect(vlan.split(separator: "\n").filter { $0.contains("<tag ") }.count == 13, "1, 5 and 10-20")
    }

    @Test(arguments: [
        ("mixed", "app1", "classic layout: access bridge br0v5 fed by VLAN leg br0.5"),
        ("access-mode", "app2", "classic layout: access bridge br05 fed by VLAN leg eth0.5"),
        ("trunk-mode", "router1", "br0 is a classic bridge (no vlan_filtering)"),
    ])
    func classicLayoutsStayWithVLANWire(example: String, guest: String, reason: String) throws {
        let export = try export(example, guest)
        #expect(export.nics.allSatisfy { $0.vlan == nil })
        #expect(export.nics.first?.stays?.hasPrefix(reason) == true, "\(export.nics)")
        #expect(export.text.contains("0 of 1 NIC(s) can move"))
    }

    @Test func aNativeTaggedTrunkStays() throws {
        var wired = try WiredExample("vlan-aware")
        let xml = """
            <domain type='kvm'><name>fw1</name>
              <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='52:54:00:00:09:01'><vw:vlan trunk='yes' tags='1,10' native='1' native-mode='tagged'/></vw:interface></vw:vlans></metadata>
              <devices><interface type='bridge'><mac address='52:54:00:00:09:01'/><source bridge='br0'/></interface></devices>
            </domain>
            """
        let domain = try DomainDescription(xml: Array(xml.utf8))
        wired.guests.append(domain)
        let export = NativeExport.export(domain, topology: wired.topology, observed: wired.observed)
        #expect(export.nics.first?.vlan == nil)
        #expect(export.nics.first?.stays?.contains("nativeMode='tagged'") == true)
    }
}
