import Foundation
import Logging
import Testing
import VLANWireLibvirt
import VLANWireTestSupport

/// The wrapper against libvirt's built-in test driver: no daemon, no host changes.
///
/// Serialized: every `test:///default` connection in a process shares one driver state while
/// any is open (the domain `test`, the network `default`), so tests would see each other's changes.
@Suite("libvirt wrapper on test:///default", .serialized)
struct TestDriverTests {
    let logger = Logger(label: "vlanwire.tests.libvirt")

    func connect() throws -> LibvirtConnection {
        try LibvirtConnection(uri: "test:///default", logger: logger)
    }

    @Test func urisResolveLikeVirsh() {
        #expect(LibvirtConnection.resolveURI("test:///default", libvirtDefaultURI: "qemu:///session") == "test:///default")
        #expect(LibvirtConnection.resolveURI(nil, libvirtDefaultURI: "qemu:///session") == "qemu:///session")
        #expect(LibvirtConnection.resolveURI(nil, libvirtDefaultURI: nil) == "qemu:///system")
        #expect(LibvirtConnection.resolveURI("", libvirtDefaultURI: "") == "qemu:///system")
    }

    @Test func connectionReportsLibvirtVersion() throws {
        let version = try connect().libvirtVersion()
        #expect(version >= LibvirtVersion(major: 9, minor: 0, release: 0))
    }

    @Test func unknownDomainThrowsNoDomainNamingIt() throws {
        let connection = try connect()
        let error = try #require(throws: LibvirtError.self) { try connection.domain(named: "web9") }
        #expect(error.code == .noDomain)
        #expect(error.origin == .test)
        #expect(error.object == "web9")
        // The test driver says less than the qemu driver (see LibvirtdTests).
        #expect(error.description == "Unable to look up domain 'web9': Domain not found")
    }

    @Test func connectingToAMissingSocketThrowsNamingTheURI() throws {
        let uri = "test+unix:///default?socket=/nonexistent/vlanwire-test-sock"
        let error = try #require(throws: LibvirtError.self) { try LibvirtConnection(uri: uri, logger: logger) }
        #expect(error.operation == "connect to")
        #expect(error.object == uri)
        #expect(error.code == .systemError)
        #expect(
            error.description
                == "Unable to connect to '\(uri)': Failed to connect socket to '/nonexistent/vlanwire-test-sock': No such file or directory")
    }

    @Test func domainsAreFoundByNameAndUUIDAndListed() throws {
        let connection = try connect()
        let byName = try connection.domain(named: "test")
        #expect(byName.name == "test")
        #expect(byName.uuid == "6695eb01-f6a4-8304-79aa-97f2502e193f")
        #expect(try connection.domain(uuid: byName.uuid).name == "test")
        #expect(try byName.isActive())
        #expect(try connection.domains(.all).map(\.name) == ["test"])
        #expect(try connection.domains(.running).map(\.name) == ["test"])
        #expect(try byName.xml().contains("<domain type='test' id='1'>"))
        #expect(try byName.xml(.inactive).contains("<domain type='test'>"))
    }

    @Test func malformedUUIDIsAnInvalidArgument() throws {
        let connection = try connect()
        let error = try #require(throws: LibvirtError.self) { try connection.domain(uuid: "not-a-uuid") }
        #expect(error.code == .invalidArgument)
        #expect(error.object == "not-a-uuid")
    }

    @Test func domainWithoutMetadataReturnsNil() throws {
        let domain = try connect().domain(named: "test")
        #expect(try domain.metadata(MetadataNamespace(uri: "urn:vlanwire-test:absent", prefix: "a")) == nil)
    }

    @Test func metadataRoundTrip() throws {
        let domain = try connect().domain(named: "test")
        defer { try? domain.setMetadata(nil, scope: [.live, .config]) }
        let element =
            #"<vlans><interface mac="52:54:00:00:00:01"><vlan trunk="yes" tags="1,5,10-20" native="1"/></interface>"#
            + #"<interface mac="52:54:00:00:00:02"><vlan tags="5"/></interface></vlans>"#
        try domain.setMetadata(element, scope: [.live, .config])

        // libvirt hands the element back without prefix, re-indented.
        let expected = """
            <vlans>
              <interface mac="52:54:00:00:00:01">
                <vlan trunk="yes" tags="1,5,10-20" native="1"/>
              </interface>
              <interface mac="52:54:00:00:00:02">
                <vlan tags="5"/>
              </interface>
            </vlans>
            """
        #expect(try domain.metadata(scope: .live) == expected)
        #expect(try domain.metadata(scope: .config) == expected)
        #expect(try domain.metadata() == expected)
        // The domain XML carries it in the namespace, with the prefix.
        #expect(try domain.xml().contains(#"<vw:vlans xmlns:vw="urn:vlanwire:1">"#))
        #expect(try domain.xml(.inactive).contains(#"<vw:vlan trunk="yes" tags="1,5,10-20" native="1"/>"#))

        try domain.setMetadata(nil, scope: [.live, .config])
        #expect(try domain.metadata(scope: .live) == nil)
        #expect(try domain.metadata(scope: .config) == nil)
    }

    @Test func metadataOnlyLiveLeavesConfigAlone() throws {
        let domain = try connect().domain(named: "test")
        defer { try? domain.setMetadata(nil, scope: .live) }
        try domain.setMetadata("<vlans/>", scope: .live)
        #expect(try domain.metadata(scope: .live) == "<vlans/>")
        #expect(try domain.metadata(scope: .config) == nil)
    }

    @Test func metadataAlreadyDeclaringThePrefixIsRefusedByLibvirt() throws {
        let domain = try connect().domain(named: "test")
        let error = try #require(throws: LibvirtError.self) {
            try domain.setMetadata(#"<vw:vlans xmlns:vw="urn:vlanwire:1"/>"#, scope: .live)
        }
        #expect(error.code == .internalError)
        #expect(
            error.description == "Unable to set the urn:vlanwire:1 metadata of domain 'test': internal error: failed to create a new XML namespace")
    }

    @Test func readingLiveAndConfigAtOnceIsAnInvalidArgument() throws {
        let domain = try connect().domain(named: "test")
        let error = try #require(throws: LibvirtError.self) { try domain.metadata(scope: [.live, .config]) }
        #expect(error.code == .invalidArgument)
    }

    @Test func networkLifecycle() throws {
        let connection = try connect()
        let name = "vwtest-lifecycle"
        let defined = try connection.defineNetwork(
            xml: """
                <network><name>\(name)</name><forward mode='bridge'/><bridge name='vwtestbr0'/></network>
                """)
        #expect(defined.name == name)
        #expect(try !defined.isActive())
        // The test driver refuses VIR_NETWORK_XML_INACTIVE ("unsupported flags (0x1)"); LibvirtdTests
        // reads the inactive form from a real libvirtd.
        let description = try defined.xml()
        #expect(description.contains("<name>\(name)</name>"))
        #expect(description.contains("<bridge name='vwtestbr0'/>"))

        let found = try connection.network(named: name)
        #expect(found.uuid == defined.uuid)
        #expect(try connection.networks().map(\.name).contains(name))

        try found.start()
        #expect(try found.isActive())
        try found.setAutostart(true)
        #expect(try found.autostart())
        try found.setAutostart(false)
        #expect(try !found.autostart())
        try found.stop()
        #expect(try !found.isActive())

        try found.undefine()
        let error = try #require(throws: LibvirtError.self) { try connection.network(named: name) }
        #expect(error.code == .noNetwork)
        #expect(error.description.hasPrefix("Unable to look up network '\(name)': Network not found"))
    }

    @Test func malformedNetworkXMLIsAnXMLError() throws {
        let connection = try connect()
        let error = try #require(throws: LibvirtError.self) { try connection.defineNetwork(xml: "<network><name>x") }
        #expect(error.code == .xmlDetail)
        #expect(error.description.hasPrefix("Unable to define network: "))
    }

    @Test func libvirtPrintsNothingToStandardError() throws {
        let connection = try connect()
        let printed = try capturingStandardError {
            _ = try? connection.domain(named: "web9")
            _ = try? connection.network(named: "web9")
            _ = try? connection.defineNetwork(xml: "<network><name>x")
            _ = try? connection.domain(named: "test").metadata(scope: [.live, .config])
        }
        // libvirt's default error handler writes "libvirt: <origin> error : <message>" lines.
        // Only libvirt's lines are looked for: tests running meanwhile may print their own.
        for libvirtText in ["libvirt:", "Domain not found", "Network not found", "<name>x"] {
            #expect(!printed.contains(libvirtText), "libvirt wrote to stderr: \(printed)")
        }
    }
}

/// Runs `body` with file descriptor 2 redirected to a temporary file and returns what was written
/// there. Whatever lands there is written back to the real stderr afterwards, so output from other
/// tests running at the same moment is not lost.
func capturingStandardError(_ body: () -> Void) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("vlanwire-stderr-\(UUID().uuidString)").path
    let capture = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
    try #require(capture >= 0)
    defer {
        close(capture)
        unlink(path)
    }
    let saved = dup(STDERR_FILENO)
    try #require(saved >= 0)
    defer { close(saved) }

    fflush(nil)
    dup2(capture, STDERR_FILENO)
    body()
    fflush(nil)
    dup2(saved, STDERR_FILENO)

    let text = try String(contentsOfFile: path, encoding: .utf8)
    FileHandle.standardError.write(Data(text.utf8))
    return text
}
