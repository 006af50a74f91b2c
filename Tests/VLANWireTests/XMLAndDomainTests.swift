import Testing
import VLANWireTestSupport

@testable import VLANWire

@Suite struct XMLParserTests {
    @Test func namespacesResolveByURINotPrefix() throws {
        let root = try XMLDocumentParser.parse("<a xmlns:x='urn:vlanwire:1'><x:b k=\"v &amp; &#65;&#x42;\"/><c><![CDATA[<raw>]]></c></a>")
        #expect(root.children[0].namespaceURI == "urn:vlanwire:1")
        #expect(root.children[0].localName == "b")
        #expect(root.children[0].attribute("k") == "v & AB")
        #expect(root.children[1].text == "<raw>")
    }

    @Test(arguments: [
        ("<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><d>&x;</d>", "DOCTYPE"),
        ("<!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;'>]><lolz>&lol2;</lolz>", "DOCTYPE"),
        ("<a>&nbsp;</a>", "unknown entity"),
        ("<a><b></a>", "does not match"),
        ("<a>", "unexpected end"),
        ("", "empty"),
        ("<a/><b/>", "after the root"),
        ("<a x='1' x='2'/>", "twice"),
        ("<a x=1/>", "quoted"),
        ("<p:a/>", "undeclared namespace"),
        ("<a>&#0;</a>", "invalid character reference"),
        ("text", "outside the root"),
        ("<a>\u{1}</a>", "control character"),
    ])
    func refuses(_ xml: String, _ expected: String) {
        do {
            _ = try XMLDocumentParser.parse(xml)
            Issue.record("accepted: \(xml)")
        } catch {
            #expect(error.description.contains(expected), "\(error)")
        }
    }

    @Test func reportsLineAndColumn() {
        do {
            _ = try XMLDocumentParser.parse("<a>\n  <b>\n  </c>\n</a>")
            Issue.record("accepted")
        } catch {
            #expect(error.line == 3)
            #expect(error.column == 7)
        }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: XMLSyntaxError.self) { try XMLDocumentParser.parse([0x3C, 0x61, 0x3E, 0xFF, 0x3C, 0x2F, 0x61, 0x3E]) }
        #expect(throws: XMLSyntaxError.self) { try XMLDocumentParser.parse([0x3C, 0x61, 0x3E, 0xC0, 0x80, 0x3C, 0x2F, 0x61, 0x3E]) }
    }

    @Test func refusesOversizedInput() {
        let big = [UInt8](repeating: 0x20, count: XMLDocumentParser.defaultMaximumSize + 1)
        do {
            _ = try XMLDocumentParser.parse(big)
            Issue.record("accepted")
        } catch {
            #expect(error.message.contains("at most"))
        }
    }

    @Test func boundsNestingWithoutRecursion() {
        let deep = String(repeating: "<a>", count: 100_000) + String(repeating: "</a>", count: 100_000)
        do {
            _ = try XMLDocumentParser.parse(deep)
            Issue.record("accepted")
        } catch {
            #expect(error.message.contains("nested deeper"))
        }
    }

    @Test func truncatedDocumentsAreRefusedAtEveryLength() throws {
        let xml = Array(try Repository.read("Tests/VLANWireTests/Fixtures/hook-live/router1-start.xml"))
        for length in stride(from: 0, to: xml.count - 2, by: 7) {
            #expect(throws: XMLSyntaxError.self) { try XMLDocumentParser.parse(xml[0..<length]) }
        }
    }
}

@Suite struct DomainReaderTests {
    @Test(
        arguments: Repository.files(in: "Tests/VLANWireTests/Fixtures/virt-install", suffix: ".xml")
            + Repository.files(in: "Tests/VLANWireTests/Fixtures/hook-live", suffix: ".xml").filter { !$0.contains("/net-") })
    func readsEveryRealFixture(_ path: String) throws {
        let domain = try DomainDescription(xml: try Repository.read(path))
        #expect(!domain.name.isEmpty)
        #expect(domain.interfaces.allSatisfy { $0.mac != nil }, "libvirt always writes MACs")
    }

    @Test func virtInstallInterfaceKinds() throws {
        func types(_ name: String) throws -> [String] {
            try DomainDescription(xml: Repository.read("Tests/VLANWireTests/Fixtures/virt-install/\(name).xml")).interfaces.map(\.type)
        }
        #expect(try types("bridge") == ["bridge"])
        #expect(try types("none") == [])
        #expect(try types("eight-bridges").count == 8)
        #expect(try types("direct") == ["direct"])
        #expect(try types("user") == ["user"])
        let ovs = try DomainDescription(xml: Repository.read("Tests/VLANWireTests/Fixtures/virt-install/openvswitch.xml"))
        #expect(ovs.interfaces[0].virtualPortType == "openvswitch")
        let network = try DomainDescription(xml: Repository.read("Tests/VLANWireTests/Fixtures/virt-install/network-portgroup.xml"))
        #expect(network.interfaces[0].sourceNetwork == "lan")
        #expect(network.interfaces[0].portgroup == "office")
    }

    @Test func liveXMLCarriesMetadataInBothForms() throws {
        let router = try DomainDescription(xml: Repository.read("Tests/VLANWireTests/Fixtures/hook-live/router1-start.xml"))
        #expect(router.metadata[mac("52:54:00:00:01:01")] == .trunk(tagged: vset("5,10-20"), native: vid(1)))
        #expect(router.metadata[mac("52:54:00:00:01:02")] == .trunk(tagged: vset("7"), native: vid(8)))
        #expect(router.interfaces.map(\.targetDevice) == ["vnet1", "vnet2"])
        let web = try DomainDescription(xml: Repository.read("Tests/VLANWireTests/Fixtures/hook-live/web1-prepare.xml"))
        #expect(web.metadata[mac("52:54:00:00:00:01")] == .access(vid(5)))
        #expect(web.interfaces[0].targetDevice == nil, "no tap exists at prepare")
    }

    @Test func networkNICBecomesBridgeTypeWhileRunning() throws {
        let prepare = try DomainDescription(xml: Repository.read("Tests/VLANWireTests/Fixtures/hook-live/net1-prepare.xml"))
        let start = try DomainDescription(xml: Repository.read("Tests/VLANWireTests/Fixtures/hook-live/net1-start.xml"))
        #expect(prepare.interfaces[0].type == "network" && prepare.interfaces[0].sourceBridge == nil)
        #expect(start.interfaces[0].type == "bridge" && start.interfaces[0].sourceNetwork == "lan")
        #expect(start.interfaces[0].sourceBridge != nil)
    }

    @Test func libvirtNativeVLANIsRecognised() throws {
        let vlanbr = try DomainDescription(xml: Repository.read("Tests/VLANWireTests/Fixtures/hook-live/vlanbr-prepare.xml"))
        #expect(vlanbr.interfaces.contains { $0.libvirtVLAN != nil })
    }

    /// A policy for a MAC the guest has no NIC for waits for one (hot-plug): not an error; the
    /// planner notes it. A bad one is still refused (see refusesBadMetadata).
    @Test func aPolicyForAMissingNICIsPending() throws {
        let xml = domainXML(
            name: "web1", nics: [("52:54:00:00:00:01", "br0", nil)],
            metadata: "<vw:interface mac='52:54:00:00:00:99'><vw:vlan tags='30'/></vw:interface>")
        let guest = try domain(xml)
        #expect(guest.pendingPolicies.map(\.mac) == [mac("52:54:00:00:00:99")])
        #expect(
            guest.pendingPolicyNotes == [
                "NIC 52:54:00:00:00:99: policy access:30 is pending: no NIC with this MAC yet (it applies when one is hot-plugged)"
            ])
        let plan = try Planner(topology: Topology.resolve(config: nil, observed: .unknown), observed: .unknown).plan(guest, operation: .prepare)
        #expect(plan.notes.contains(guest.pendingPolicyNotes[0]))
    }

    // Bad metadata: each gets its own problem naming guest, MAC and cause.
    @Test(arguments: [
        ("<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='0'/></vw:interface>", "reserved"),
        ("<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='4095'/></vw:interface>", "reserved"),
        ("<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='-1'/></vw:interface>", "negative"),
        ("<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='99999'/></vw:interface>", "out of range"),
        ("<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5a'/></vw:interface>", "not a decimal"),
        ("<vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='yes' tags='20-10'/></vw:interface>", "reversed"),
        (
            "<vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='5'/></vw:interface><vw:interface mac='52:54:00:00:00:01'><vw:vlan tags='6'/></vw:interface>",
            "two entries"
        ),
        ("<vw:interface mac='52:54:00:00:00:99'><vw:vlan tags='4095'/></vw:interface>", "reserved"),
        ("<vw:interface mac='52:54:00:00:00:01'><vw:vlan tag='5'/></vw:interface>", "unknown attribute"),
        ("<vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='no' tags='5,6'/></vw:interface>", "trunk=\"no\""),
        ("<vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='maybe' tags='5'/></vw:interface>", "yes or no"),
        ("<vw:interface mac='52:54:00:00:00:01'/>", "no <vw:vlan>"),
        ("<vw:interface mac='zz'><vw:vlan tags='5'/></vw:interface>", "MAC address"),
        (
            "<vw:interface mac='52:54:00:00:00:01'><vw:vlan><vw:tag id='5' nativeMode='dot1q-tunnel'/></vw:vlan></vw:interface>",
            "must be untagged or tagged"
        ),
    ])
    func refusesBadMetadata(_ metadata: String, _ expected: String) {
        let xml = domainXML(name: "web1", nics: [("52:54:00:00:00:01", "br0", nil)], metadata: metadata)
        do {
            _ = try domain(xml)
            Issue.record("accepted: \(metadata)")
        } catch {
            let line = error.description
            #expect(line.contains("guest 'web1'"), "\(line)")
            #expect(line.contains("NIC "), "\(line)")
            #expect(line.contains(expected), "\(line)")
            #expect(!line.contains("\n"))
        }
    }

    @Test func malformedXMLNamesTheGuestHintAndPosition() {
        do {
            _ = try domain("<domain><name>x</name>\n<devices>", hint: "web1")
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("guest 'web1'"))
            #expect(error.description.contains("line 2"))
        }
    }

    @Test func hostileNamesAreEscaped() {
        do {
            _ = try domain(
                "<domain><name>evil\nguest</name><metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='52:54:00:00:00:09'><vw:vlan tags='5'/></vw:interface></vw:vlans></metadata></domain>"
            )
        } catch {
            #expect(error.description.contains("evil\\nguest"))
            #expect(!error.description.contains("evil\nguest"))
        }
    }
}

@Suite struct ConfigTests {
    @Test func readsEveryExampleConfig() throws {
        for example in ["access-mode", "trunk-mode", "mixed", "vlan-aware"] {
            let config = try HostConfig(toml: Repository.text("Examples/\(example)/vlanwire.toml"), path: example)
            #expect(!config.uplinks.isEmpty)
        }
    }

    @Test func readsAllKeys() throws {
        let config = try HostConfig(
            toml: """
                [[uplink]]
                interface = "eth0"
                bridge = "br0"
                mode = "vlan-aware"
                vlans = "1-20"
                native-vlan = 1
                default-policy = "trunk:1,5 native:1"
                stp = true
                forward-delay = 150
                bridge-netfilter = "off"
                [[network]]
                name = "lan"
                uplink = "eth0"
                portgroups = { office = "10", router = "trunk:1,5,10-20 native:1", voip = 20 }
                default-portgroup = "office"
                """)
        let uplink = config.uplinks[0]
        #expect(uplink.mode == .vlanAware && uplink.vlans == vset("1-20") && uplink.nativeVLAN == vid(1))
        #expect(uplink.stp && uplink.forwardDelay == 150 && uplink.netfilterOff)
        #expect(uplink.defaultPolicy == .trunk(tagged: vset("5"), native: vid(1)))
        #expect(config.networks[0].portgroups["voip"] == .access(vid(20)))
        #expect(config.networks[0].defaultPortgroup == "office")
    }

    @Test(arguments: [
        ("[[uplink]]\ninterface = \"eth0\"\nvlans = \"20-10\"", "uplink[1].vlans", "reversed"),
        ("[[uplink]]\ninterface = \"eth0\"\nmode = \"fast\"", "uplink[1].mode", "vlan-aware"),
        ("[[uplink]]\ninterface = \"eth0\"\nvlan = \"1\"", "uplink[1].vlan", "unknown key"),
        ("[[uplink]]\ninterface = \"eth0123456789abcdef\"", "uplink[1].interface", "bytes"),
        ("[[uplink]]\nbridge = \"br0\"", "uplink[1].interface", "missing"),
        ("[[uplink]]\ninterface = \"eth0\"\nmode = \"vlan-aware\"", "uplink[1].bridge", "missing"),
        ("[[uplink]]\ninterface = \"eth0\"\naccess-bridge = \"br\"", "uplink[1].access-bridge", "{vid}"),
        ("[[uplink]]\ninterface = \"eth0\"\nvlans = \"1-5\"\nnative-vlan = 9", "uplink[1].native-vlan", "not in vlans"),
        ("[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\n[[network]]\nname = \"lan\"\nuplink = \"eth9\"", "network[1].uplink", "no [[uplink]]"),
        (
            "[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nvlans = \"1-5\"\n[[network]]\nname = \"lan\"\nuplink = \"eth0\"\nportgroups = { a = \"9\" }",
            "network[1].portgroups.a", "not carried"
        ),
        ("[[uplink]]\ninterface = \"eth0\"\n[[uplink]]\ninterface = \"eth0\"", "uplink[2]", "two uplinks"),
        ("[[uplink]\ninterface = 1", nil, "line 1"),
    ])
    func errorsNameFileAndKey(_ toml: String, _ key: String?, _ expected: String) {
        do {
            _ = try HostConfig(toml: toml, path: "/etc/vlanwire/test.toml")
            Issue.record("accepted: \(toml)")
        } catch {
            #expect(error.file == "/etc/vlanwire/test.toml")
            #expect(error.key == key, "\(error)")
            #expect(error.description.contains(expected), "\(error)")
        }
    }

    /// The Debian package installs packaging/vlanwire.toml as /etc/vlanwire/vlanwire.toml: as
    /// shipped (all comments) it is no config, and its example, uncommented, is a valid one.
    @Test func packagedExampleIsNoConfigAndItsExampleIsValid() throws {
        let text = try Repository.text("packaging/vlanwire.toml")
        let shipped = try HostConfig(toml: text, path: "/etc/vlanwire/vlanwire.toml")
        #expect(shipped.uplinks.isEmpty && shipped.networks.isEmpty)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("#") && line.dropFirst().first.map { $0 != " " && $0 != "#" } == true ? line.dropFirst() : line
        }
        let example = try HostConfig(toml: lines.joined(separator: "\n"), path: "example")
        #expect(example.uplinks.count == 1 && example.uplinks[0].mode == .vlanAware && example.uplinks[0].failClosed)
        #expect(example.networks.map(\.name) == ["lan"])
    }

    @Test func missingDefaultFileMeansNoConfig() throws {
        #expect(try HostConfig.load(path: nil) == nil || FileAccess.exists(HostConfig.defaultPath))
        #expect(throws: ConfigError.self) { try HostConfig.load(path: "/nonexistent/vlanwire.toml") }
    }
}
