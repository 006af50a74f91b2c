import Foundation
import Testing
import VLANWire
import VLANWireLibvirt
import VLANWireTemplates
import VLANWireTestSupport

/// Every XML document vlanwire generates, checked against libvirt's own RelaxNG schemas with
/// virt-xml-validate: the networks of every Examples/*/vlanwire.toml, and the `<interface>`
/// snippet and metadata element `vlanwire interface-xml` prints, inside a minimal domain.
@Suite(
    "generated XML is valid per libvirt's schemas",
    .enabled(if: Tools.virtXMLValidate != nil, "\(Tools.virtXMLValidateMissing)")
)
struct SchemaValidationTests {
    /// The validator is not vacuous: documents libvirt's schema forbids are refused.
    @Test func theValidatorRefusesWhatTheSchemaForbids() throws {
        let directory = try TemporaryDirectory()
        let network = try validateWithLibvirtSchema(
            "<network><name>x</name><forward mode='sideways'/></network>",
            schema: "network", in: directory, name: "bad-network.xml")
        #expect(network.status != 0, "\(network)")
        let domain = try validateWithLibvirtSchema(
            Self.minimalDomain(devices: "<interface type='bridge'><source bridge='br0'/><vlan><tag/></vlan></interface>"),
            schema: "domain", in: directory, name: "bad-domain.xml")
        #expect(domain.status != 0, "\(domain)")
    }

    @Test(arguments: Repository.exampleConfigs)
    func everyNetworkOfTheExampleConfigIsValid(configPath: String) throws {
        let config = try #require(try HostConfig.load(path: configPath))
        let definitions = config.networkDefinitions(templates: try XMLTemplates())
        let directory = try TemporaryDirectory()
        for definition in definitions {
            let run = try validateWithLibvirtSchema(definition.xml, schema: "network", in: directory, name: "\(definition.name).xml")
            #expect(run.status == 0, "\(configPath): network \(definition.name):\n\(definition.xml)\n\(run)")
        }
    }

    @Test(
        .enabled(if: Binary.isBuilt, "\(Binary.missing)"),
        arguments: Repository.exampleConfigs)
    func networksPrintIsExactlyTheseDefinitions(configPath: String) throws {
        let config = try #require(try HostConfig.load(path: configPath))
        let definitions = config.networkDefinitions(templates: try XMLTemplates())
        let run = try Tools.vlanwire("networks", "print", "--config", configPath)
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout == definitions.map(\.xml).joined(), "what is validated is what the CLI prints")
    }

    /// `vlanwire interface-xml` for an access and a trunk port: the `<interface>` goes into a
    /// minimal domain's `<devices>`, the metadata into its `<metadata>` the way libvirt stores it
    /// (`<vw:vlans xmlns:vw="urn:vlanwire:1">`, every element prefixed); the domain is valid and
    /// vlanwire's own reader gets the policy back.
    @Test(
        .enabled(if: Binary.isBuilt, "\(Binary.missing)"),
        arguments: [
            (["--access", "5"], "access:5"),
            (["--trunk", "1,5,10-20", "--native", "1"], "trunk:1,5,10-20 native:1"),
            (["--trunk", "10-20"], "trunk:10-20"),
            (["--trunk", "1,10", "--native-tagged", "1"], "trunk:1,10 native-tagged:1"),
        ])
    func interfaceXMLInsideADomainIsValid(policyArguments: [String], expected: String) throws {
        let mac = "52:54:00:00:00:01"
        let common = ["interface-xml", "--bridge", "br0", "--mac", mac] + policyArguments
        let both = try Subprocess.run(Binary.vlanwire, common)
        let metadataOnly = try Subprocess.run(Binary.vlanwire, common + ["--metadata-only"])
        #expect(both.status == 0 && metadataOnly.status == 0, "\(both)\n\(metadataOnly)")
        #expect(both.stdout.hasSuffix(metadataOnly.stdout))
        let interface = String(both.stdout.dropLast(metadataOnly.stdout.count))
        #expect(interface.hasPrefix("<interface type='bridge'>"))

        let stored = Self.asLibvirtStoresIt(metadataOnly.stdout)
        let document = Self.minimalDomain(devices: interface, metadata: stored)
        let directory = try TemporaryDirectory()
        let run = try validateWithLibvirtSchema(document, schema: "domain", in: directory, name: "domain.xml")
        #expect(run.status == 0, "\(document)\n\(run)")
        let read = try DomainDescription(xml: Array(document.utf8))
        #expect(read.metadata == [try MACAddress(parsing: mac): try PortPolicy(parsing: expected)])
        #expect(read.interfaces.first?.sourceBridge == "br0")
    }

    /// The unprefixed element `interface-xml --metadata-only` prints, as libvirt writes it into
    /// the domain XML after `virsh metadata --key vw --set`: every element in the `vw` prefix, the
    /// namespace declared on the outer one.
    static func asLibvirtStoresIt(_ element: String) -> String {
        let prefixed = element.replacing(/<(\/?)([A-Za-z])/) { "<\($0.output.1)vw:\($0.output.2)" }
        guard let firstSpaceOrEnd = prefixed.firstRange(of: /<vw:vlans/) else { return prefixed }
        var result = prefixed
        result.replaceSubrange(firstSpaceOrEnd, with: "<vw:vlans xmlns:vw=\"\(VLANWireMetadata.namespace)\"")
        return result
    }

    static func minimalDomain(devices: String, metadata: String = "") -> String {
        """
        <domain type='kvm'>
          <name>vlanwire-schema-check</name>
          <memory unit='MiB'>64</memory>
          \(metadata.isEmpty ? "" : "<metadata>\n\(metadata)</metadata>")
          <os><type arch='x86_64' machine='pc'>hvm</type></os>
          <devices>
        \(devices)
          </devices>
        </domain>

        """
    }

    @Test func theLibvirtFormIsWhatTheReaderExpects() {
        #expect(
            Self.asLibvirtStoresIt("<vlans>\n  <interface mac='m'><vlan tags='5'/></interface>\n</vlans>\n")
                == "<vw:vlans xmlns:vw=\"urn:vlanwire:1\">\n  <vw:interface mac='m'><vw:vlan tags='5'/></vw:interface>\n</vw:vlans>\n")
    }
}
