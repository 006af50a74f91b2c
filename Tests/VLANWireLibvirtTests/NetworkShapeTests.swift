import Testing
import VLANWire
import VLANWireLibvirt
import VLANWireTemplates
import VLANWireTestSupport

/// The semantic comparison of network definitions: no libvirt needed.
@Suite("network definitions compared semantically")
struct NetworkShapeTests {
    /// What `vlanwire networks print` renders for Examples/mixed's `lan`.
    static let ours = """
        <!-- vlanwire: libvirt network for the trunk bridge br0 on uplink eth0 (bridge br0). -->
        <network>
          <name>lan</name>
          <forward mode='bridge'/>
          <bridge name='br0'/>
          <portgroup name='office' default='yes'/>
          <portgroup name='router'/>
        </network>
        """

    /// What libvirt 9.0.0 hands back for it (`virsh net-dumpxml --inactive lan`, measured):
    /// a UUID added, the comment gone, portgroups written with an end tag.
    static let libvirts = """
        <network>
          <name>lan</name>
          <uuid>51562115-a49d-4533-ae77-ed907c0a9a4c</uuid>
          <forward mode='bridge'/>
          <bridge name='br0'/>
          <portgroup name='office' default='yes'>
          </portgroup>
          <portgroup name='router'>
          </portgroup>
        </network>

        """

    func shape(_ xml: String) throws -> NetworkShape { try NetworkShape(xml: xml) }

    @Test func libvirtsRewritingIsNotAChange() throws {
        let ours = try shape(Self.ours)
        #expect(ours.name == "lan")
        #expect(ours.forwardMode == "bridge")
        #expect(ours.portgroups.map(\.name) == ["office", "router"])
        #expect(ours.portgroups.map(\.isDefault) == [true, false])
        #expect(ours.changes(from: try shape(Self.libvirts)).isEmpty)
    }

    @Test func whatLibvirtAddsToOtherNetworksIsIgnored() throws {
        // An isolated network as libvirt stores it (measured): it adds <mac> and fills in <bridge>.
        let theirs = try shape(
            """
            <network>
              <name>iso</name>
              <uuid>df6a9b14-d068-492f-9008-bc77b4585f87</uuid>
              <bridge name='virbr1' stp='on' delay='0'/>
              <mac address='52:54:00:32:16:e2'/>
            </network>
            """)
        #expect(try shape("<network><name>iso</name><bridge name='virbr1'/></network>").changes(from: theirs).isEmpty)
        // But an attribute ours sets must match.
        #expect(
            try shape("<network><name>iso</name><bridge name='virbr1' stp='off'/></network>").changes(from: theirs)
                == ["bridge stp: on -> off"])
    }

    @Test func portgroupChangesAreNamed() throws {
        let theirs = try shape(
            """
            <network><name>lan</name><forward mode='bridge'/><bridge name='br0'/>
              <portgroup name='office' default='yes'/><portgroup name='guests'/></network>
            """)
        let ours = try shape(
            """
            <network><name>lan</name><forward mode='bridge'/><bridge name='br0'/>
              <portgroup name='office'/><portgroup name='router' default='yes'/></network>
            """)
        #expect(
            ours.changes(from: theirs) == [
                "portgroup office: no longer the default",
                "portgroup router added (default)",
                "portgroup guests removed",
            ])
        #expect(
            theirs.changes(from: ours) == [
                "portgroup office: now the default",
                "portgroup guests added",
                "portgroup router removed",
            ])
    }

    @Test func forwardModeAndBridgeChangesAreNamed() throws {
        // <forward/> without a mode is NAT, libvirt's default.
        let theirs = try shape("<network><name>lan</name><forward/><bridge name='virbr5'/></network>")
        let ours = try shape("<network><name>lan</name><forward mode='bridge'/><bridge name='br0'/></network>")
        #expect(ours.changes(from: theirs) == ["forward mode: nat -> bridge", "bridge name: virbr5 -> br0"])
        let isolated = try shape("<network><name>lan</name><bridge name='br0'/></network>")
        #expect(ours.changes(from: isolated) == ["forward mode: none -> bridge"])
        #expect(isolated.changes(from: ours) == ["forward mode: bridge -> none"])
    }

    @Test func portgroupContentAndExtraElementsFromTemplatesAreCompared() throws {
        // A user template may put more into a network; what it sets must be there.
        let ours = try shape(
            """
            <network><name>lan</name><forward mode='bridge'/><bridge name='br0'/><mtu size='9000'/>
              <portgroup name='office'><bandwidth><inbound average='1000'/></bandwidth></portgroup></network>
            """)
        let theirs = try shape(
            """
            <network><name>lan</name><uuid>51562115-a49d-4533-ae77-ed907c0a9a4c</uuid><forward mode='bridge'/>
              <bridge name='br0'/><portgroup name='office'>
                <bandwidth>
                  <inbound average='1000'/>
                </bandwidth>
              </portgroup></network>
            """)
        #expect(ours.changes(from: theirs) == ["<mtu size='9000'/> added"])
        let smaller = try shape("<network><name>lan</name><mtu size='1500'/><portgroup name='office'/></network>")
        #expect(
            ours.changes(from: smaller) == [
                "forward mode: none -> bridge",
                "bridge name: unset -> br0",
                "portgroup office: <portgroup/> -> <portgroup><bandwidth><inbound average='1000'/></bandwidth></portgroup>",
                "<mtu size='1500'/> -> <mtu size='9000'/>",
            ])
    }

    @Test func badDocumentsAreRefused() {
        #expect(throws: NetworkShape.ReadError(message: "the document's root is <domain>, not <network>")) {
            try NetworkShape(xml: "<domain><name>x</name></domain>")
        }
        #expect(throws: NetworkShape.ReadError(message: "the network has no <name>")) {
            try NetworkShape(xml: "<network><forward mode='bridge'/></network>")
        }
        #expect(throws: NetworkShape.ReadError(message: "network 'lan': two portgroups named 'a'")) {
            try NetworkShape(xml: "<network><name>lan</name><portgroup name='a'/><portgroup name='a'/></network>")
        }
        #expect(throws: NetworkShape.ReadError.self) { try NetworkShape(xml: "<network><name>lan</name>") }
    }

    @Test func uuidGoesRightAfterTheName() throws {
        let uuid = "51562115-a49d-4533-ae77-ed907c0a9a4c"
        let withUUID = try NetworkShape.inserting(uuid: uuid, into: Self.ours)
        #expect(withUUID.contains("<name>lan</name><uuid>\(uuid)</uuid>\n  <forward mode='bridge'/>"))
        #expect(withUUID.hasPrefix("<!-- vlanwire:"))
        #expect(try shape(withUUID) == shape(Self.ours))
        // A comment that mentions </name> before the network does not fool it.
        let tricky = "<!-- a </name> here -->\n<network>\n  <name>a&amp;b</name></network>"
        #expect(
            try NetworkShape.inserting(uuid: uuid, into: tricky)
                == "<!-- a </name> here -->\n<network>\n  <name>a&amp;b</name><uuid>\(uuid)</uuid></network>")
        // A document that has one is left alone.
        #expect(try NetworkShape.inserting(uuid: uuid, into: Self.libvirts) == Self.libvirts)
    }

    @Test func everyExampleConfigsNetworksPassTheCheck() throws {
        let templates = try XMLTemplates()
        var checked = 0
        for path in Repository.exampleConfigs {
            let config = try #require(try HostConfig.load(path: path))
            let definitions = config.networkDefinitions(templates: templates)
            try LibvirtConnection.check(definitions)
            for definition in definitions {
                // Each compares equal to itself, and to libvirt's way of writing it.
                let ours = try shape(definition.xml)
                #expect(ours.changes(from: ours).isEmpty)
                checked += 1
            }
        }
        #expect(checked >= 4, "Examples/ should define networks")
    }

    @Test func checkRefusesBadDefinitionsBeforeAnythingIsWritten() throws {
        let eth0 = try LinkName("eth0")
        let br0 = try LinkName("br0")
        let uplink = Uplink(
            interface: eth0, bridge: br0, mode: .classic, vlans: try VLANSet(parsing: "1,5"),
            accessNetworks: try VLANSet(parsing: "5"))
        // A [[network]] called like an access network: two definitions, one name.
        let clash = HostConfig(uplinks: [uplink], networks: [NetworkMapping(name: "eth0-vlan5", uplink: eth0)])
        #expect(throws: NetworkDefinitionError(network: "eth0-vlan5", message: "defined twice by the config")) {
            try LibvirtConnection.check(clash.networkDefinitions(templates: XMLTemplates()))
        }
        // User templates that name another network, or are not XML.
        let config = HostConfig(uplinks: [uplink])
        let directory = try TemporaryDirectory()
        try directory.write("network-access.xml.mustache", "<network><name>wan</name></network>")
        #expect(throws: NetworkDefinitionError(network: "eth0-vlan5", message: "the rendered XML names the network 'wan'")) {
            try LibvirtConnection.check(config.networkDefinitions(templates: XMLTemplates(overrideDirectory: directory.path)))
        }
        try directory.write("network-access.xml.mustache", "<network><name>{{name}}</name>")
        #expect(throws: NetworkDefinitionError.self) {
            try LibvirtConnection.check(config.networkDefinitions(templates: XMLTemplates(overrideDirectory: directory.path)))
        }
    }

    @Test func outcomesPrintOneLineEach() {
        #expect(
            NetworkOutcome(name: "lan", action: .redefined, changes: ["portgroup router added"]).description
                == "lan: portgroup router added")
        #expect(NetworkOutcome(name: "eth0-vlan5", action: .unchanged).description == "eth0-vlan5: unchanged")
        #expect(
            NetworkOutcome(name: "lan", action: .defined, started: true, autostartEnabled: true).description
                == "lan: defined; started; autostart enabled")
        #expect(NetworkOutcome(name: "lan", action: .undefined, stopped: true).description == "lan: stopped; undefined")
        #expect(NetworkOutcome(name: "lan", action: .absent).description == "lan: not defined")
        #expect(
            NetworkOutcome(name: "lan", action: .unchanged, restartNeeded: true).description
                == "lan: unchanged; running with an older definition until restarted (virsh net-destroy lan; virsh net-start lan)")
    }
}
