import Foundation
import Logging
import Testing
import VLANWireLibvirt
import VLANWireTestSupport

/// The URI of the real libvirtd these tests use. The project's test script starts one in a
/// private network namespace (scripts/libvirtd-sandbox), so nothing it does reaches the host's network.
let libvirtdURI = "qemu:///system"

/// Whether a libvirtd answers at `libvirtdURI`, checked once per test run.
let libvirtdReachable: Bool = (try? LibvirtConnection(uri: libvirtdURI, logger: Logger(label: "vlanwire.tests.probe"))) != nil

/// The wrapper against a real libvirtd, cross-checked with virsh. Only defines and undefines (no
/// guest or network is started). Names carry the process id, so concurrent runs do not collide.
@Suite(
    "libvirt wrapper on a real libvirtd",
    .enabled(
        if: libvirtdReachable,
        "needs a running libvirtd at qemu:///system, and none is reachable (start one: scripts/libvirtd-sandbox start)")
)
struct LibvirtdTests {
    let logger = Logger(label: "vlanwire.tests.libvirtd")
    let suffix = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    func connect() throws -> LibvirtConnection {
        try LibvirtConnection(uri: libvirtdURI, logger: logger)
    }

    @Test func unknownDomainErrorNamesItAndSaysWhy() throws {
        let name = "vwtest-absent-\(suffix)"
        let error = try #require(throws: LibvirtError.self) { try connect().domain(named: name) }
        #expect(error.code == .noDomain)
        #expect(error.origin == .qemu)
        #expect(error.description == "Unable to look up domain '\(name)': Domain not found: no domain with matching name '\(name)'")
    }

    @Test func networkDefineReadBackUndefine() throws {
        let connection = try connect()
        let name = "vwtest-net-\(suffix)"
        let network = try connection.defineNetwork(
            xml: """
                <network><name>\(name)</name><forward mode='bridge'/><bridge name='vwtestbr0'/></network>
                """)
        var undefined = false
        defer { if !undefined { try? network.undefine() } }

        #expect(try !network.isActive())
        #expect(try !network.autostart())
        let inactive = try network.xml(.inactive)
        #expect(inactive.contains("<name>\(name)</name>"))
        #expect(inactive.contains("<uuid>\(network.uuid)</uuid>"))
        #expect(inactive.contains("<forward mode='bridge'/>"))
        #expect(inactive.contains("<bridge name='vwtestbr0'/>"))
        #expect(try connection.network(named: name).uuid == network.uuid)
        #expect(try connection.networks().contains { $0.uuid == network.uuid })
        #expect(try virsh("net-dumpxml", "--inactive", name).droppingTrailingNewlines == inactive.droppingTrailingNewlines)

        try network.undefine()
        undefined = true
        let error = try #require(throws: LibvirtError.self) { try connection.network(named: name) }
        #expect(error.code == .noNetwork)
        #expect(error.description == "Unable to look up network '\(name)': Network not found: no network with matching name '\(name)'")
    }

    @Test func metadataAgreesWithVirsh() throws {
        let name = "vwtest-dom-\(suffix)"
        try defineGuest(name)
        defer { _ = try? virsh("undefine", name) }
        let domain = try connect().domain(named: name)
        #expect(try !domain.isActive())
        #expect(try connect().domains(.all).contains { $0.uuid == domain.uuid })
        #expect(try !connect().domains(.running).contains { $0.uuid == domain.uuid })

        let element = #"<vlans><interface mac="52:54:00:00:00:01"><vlan trunk="yes" tags="1,5,10-20" native="1"/></interface></vlans>"#
        try domain.setMetadata(element, scope: .config)
        let expected = """
            <vlans>
              <interface mac="52:54:00:00:00:01">
                <vlan trunk="yes" tags="1,5,10-20" native="1"/>
              </interface>
            </vlans>
            """
        #expect(try domain.metadata() == expected)
        #expect(try domain.metadata(scope: .config) == expected)
        // virsh prints the very same text, then an empty line.
        #expect(try virsh("metadata", name, "--uri", "urn:vlanwire:1", "--key", "vw") == expected + "\n\n")
        // In the domain XML it is namespaced, with the key as prefix: what the hook reads on stdin.
        let xml = try domain.xml(.inactive)
        #expect(
            xml.contains(
                """
                <metadata>
                    <vw:vlans xmlns:vw="urn:vlanwire:1">
                      <vw:interface mac="52:54:00:00:00:01">
                        <vw:vlan trunk="yes" tags="1,5,10-20" native="1"/>
                """))

        // And the other way round: what virsh sets, the wrapper reads.
        _ = try virsh(
            "metadata", name, "--uri", "urn:vlanwire:1", "--key", "vw", "--config",
            "--set", #"<vlans><interface mac="52:54:00:00:00:01"><vlan tags="5"/></interface></vlans>"#)
        #expect(
            try domain.metadata() == """
                <vlans>
                  <interface mac="52:54:00:00:00:01">
                    <vlan tags="5"/>
                  </interface>
                </vlans>
                """)

        // Live changes need a running guest.
        let error = try #require(throws: LibvirtError.self) { try domain.setMetadata("<vlans/>", scope: .live) }
        #expect(error.code == .operationInvalid)
        #expect(
            error.description
                == "Unable to set the urn:vlanwire:1 metadata of domain '\(name)': Requested operation is not valid: domain is not running")

        try domain.setMetadata(nil, scope: .config)
        #expect(try domain.metadata() == nil)
        #expect(try !domain.xml(.inactive).contains("urn:vlanwire:1"))
    }

    /// Defines (does not start) a minimal QEMU guest with one bridge NIC, through virsh.
    func defineGuest(_ name: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).xml")
        try """
        <domain type='qemu'>
          <name>\(name)</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type></os>
          <devices>
            <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='vwtestbr0'/><model type='virtio'/></interface>
          </devices>
        </domain>
        """.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        _ = try virsh("define", file.path)
    }
}

/// Runs `virsh -c qemu:///system ARGUMENTS` and returns its standard output; throws on failure.
func virsh(_ arguments: String...) throws -> String {
    try Subprocess.output("/usr/bin/virsh", ["-c", libvirtdURI] + arguments)
}

extension String {
    var droppingTrailingNewlines: Substring {
        self[..<(lastIndex { $0 != "\n" }.map(index(after:)) ?? startIndex)]
    }
}
