import Foundation
import Logging
import Testing
import VLANWire
import VLANWireLibvirt
import VLANWireReports
import VLANWireTemplates
import VLANWireTestSupport

/// A private test-driver connection: libvirt's test driver loaded from a node file of our own.
/// Unlike `test:///default`, every such connection has its own state, so these suites run in
/// parallel with each other and with `TestDriverTests`.
func privateTestDriver(_ node: String) throws -> LibvirtConnection {
    let directory = try TemporaryDirectory()
    let file = try directory.write("node.xml", node)
    // The driver reads the file while opening; the directory may go afterwards.
    return try LibvirtConnection(uri: "test://\(file)", logger: Logger(label: "vlanwire.tests.testdriver"))
}

/// A config with one vlan-aware uplink and a trunk network, plus a classic uplink with access networks.
func sampleConfig(
    network: String = "lan", portgroups: [String: String] = ["office": "10"],
    defaultPortgroup: String? = "office", accessVLANs: String = "5,10", interface: String = "eth1"
) throws -> HostConfig {
    let eth0 = try LinkName("eth0")
    let br0 = try LinkName("br0")
    let classic = try LinkName(interface)
    return HostConfig(
        uplinks: [
            Uplink(interface: eth0, bridge: br0, mode: .vlanAware, vlans: try VLANSet(parsing: "1-20")),
            Uplink(
                interface: classic, bridge: nil, mode: .classic, vlans: try VLANSet(parsing: accessVLANs),
                accessNetworks: try VLANSet(parsing: accessVLANs)),
        ],
        networks: [
            NetworkMapping(
                name: network, uplink: eth0,
                portgroups: try portgroups.mapValues { try PortPolicy(parsing: $0) },
                defaultPortgroup: defaultPortgroup)
        ])
}

@Suite("networks define/undefine on libvirt's test driver")
struct TestDriverNetworkSyncTests {
    /// The test driver's node, with one network of ours already there in an older form and one
    /// network that is not the config's.
    static let node = """
        <node>
          <network>
            <name>lan</name>
            <uuid>0c2b6f56-5a6f-4d5c-8d39-6a1b9d0b9b11</uuid>
            <forward mode='bridge'/>
            <bridge name='br0'/>
            <portgroup name='office'/>
            <portgroup name='guests' default='yes'/>
          </network>
          <network>
            <name>other</name>
            <forward mode='bridge'/>
            <bridge name='br9'/>
          </network>
        </node>
        """

    /// The test driver starts the networks of a node file, and cannot show a running network's
    /// persistent definition (it refuses VIR_NETWORK_XML_INACTIVE); stopped, the two are the same.
    func connectWithNetworksStopped() throws -> LibvirtConnection {
        let connection = try privateTestDriver(Self.node)
        for network in try connection.networks() where try network.isActive() { try network.stop() }
        return connection
    }

    @Test func defineIsIdempotentAndSaysWhatChanged() throws {
        let connection = try connectWithNetworksStopped()
        let definitions = try sampleConfig().networkDefinitions(templates: XMLTemplates())
        #expect(definitions.map(\.name) == ["lan", "eth1-vlan5", "eth1-vlan10"])
        try LibvirtConnection.check(definitions)

        let first = connection.defineNetworks(definitions)
        #expect(
            first.map(\.description) == [
                "lan: portgroup office: now the default; portgroup guests removed",
                "eth1-vlan5: defined",
                "eth1-vlan10: defined",
            ])
        // Redefined in place: same UUID.
        #expect(try connection.network(named: "lan").uuid == "0c2b6f56-5a6f-4d5c-8d39-6a1b9d0b9b11")
        #expect(try connection.network(named: "lan").xml().contains("<portgroup name='office' default='yes'"))

        let second = connection.defineNetworks(definitions)
        #expect(second.map(\.action) == [.unchanged, .unchanged, .unchanged])
        #expect(second.map(\.description) == ["lan: unchanged", "eth1-vlan5: unchanged", "eth1-vlan10: unchanged"])

        // A portgroup more in the config: only lan changes.
        let more = try sampleConfig(portgroups: ["office": "10", "router": "trunk:1,5,10-20 native:1"])
            .networkDefinitions(templates: XMLTemplates())
        #expect(
            connection.defineNetworks(more).map(\.description)
                == ["lan: portgroup router added", "eth1-vlan5: unchanged", "eth1-vlan10: unchanged"])
        // Networks that are not the config's are never touched.
        #expect(try connection.network(named: "other").xml().contains("<bridge name='br9'/>"))
    }

    @Test func startAndAutostartAreOnlyEverSwitchedOn() throws {
        let connection = try connectWithNetworksStopped()
        let definitions = try sampleConfig().networkDefinitions(templates: XMLTemplates())
        let started = connection.defineNetworks(definitions, start: true, autostart: true)
        #expect(started.allSatisfy { $0.started && $0.autostartEnabled && $0.active == true })
        for name in definitions.map(\.name) {
            #expect(try connection.network(named: name).isActive())
            #expect(try connection.network(named: name).autostart())
        }
        // Again: nothing more to do, and without the flags nothing is stopped or switched off.
        #expect(
            connection.defineNetworks(definitions, start: true, autostart: true).map(\.description)
                == ["lan: unchanged", "eth1-vlan5: unchanged", "eth1-vlan10: unchanged"])
        #expect(connection.defineNetworks(definitions).allSatisfy { $0.active == true && !$0.started })
        #expect(try connection.network(named: "lan").autostart())
    }

    @Test func redefiningARunningNetworkSaysItNeedsARestart() throws {
        // Running: the test driver starts a node file's networks.
        let connection = try privateTestDriver(Self.node)
        #expect(try connection.network(named: "lan").isActive())
        let definitions = try sampleConfig().networkDefinitions(templates: XMLTemplates())
        let outcome = try #require(connection.defineNetworks(Array(definitions.prefix(1))).first)
        #expect(outcome.action == .redefined)
        #expect(outcome.active == true)
        #expect(outcome.restartNeeded)
        #expect(outcome.description.hasSuffix("; running with an older definition until restarted (virsh net-destroy lan; virsh net-start lan)"))
    }

    @Test func undefineRemovesOnlyTheConfigsNetworksStoppingRunningOnes() throws {
        let connection = try connectWithNetworksStopped()
        let definitions = try sampleConfig().networkDefinitions(templates: XMLTemplates())
        _ = connection.defineNetworks(Array(definitions.prefix(2)), start: true)
        let outcomes = connection.undefineNetworks(named: definitions.map(\.name))
        #expect(outcomes.map(\.description) == ["lan: stopped; undefined", "eth1-vlan5: stopped; undefined", "eth1-vlan10: not defined"])
        #expect(try connection.networks().map(\.name) == ["other"])
        #expect(connection.undefineNetworks(named: ["lan"]).map(\.action) == [.absent])
    }

    @Test func libvirtRefusalsAreReportedPerNetworkAndTheOthersStillHappen() throws {
        let connection = try connectWithNetworksStopped()
        // A user template libvirt refuses (vlanwire's check only reads the name).
        let directory = try TemporaryDirectory()
        try directory.write(
            "network-access.xml.mustache",
            "<network><name>{{name}}</name><forward mode='sideways'/><bridge name='{{bridge}}'/></network>")
        let definitions = try sampleConfig().networkDefinitions(templates: XMLTemplates(overrideDirectory: directory.path))
        let outcomes = connection.defineNetworks(definitions)
        #expect(outcomes.map(\.action) == [.redefined, .failed, .failed])
        let error = try #require(outcomes[1].error)
        #expect(error.hasPrefix("Unable to define network: "), "\(error)")
        #expect(outcomes[1].description == "eth1-vlan5: failed: \(error)")
        #expect(try connection.network(named: "lan").xml().contains("<portgroup name='office' default='yes'"))
    }

    @Test func jsonHasEveryKey() throws {
        let json = JSON.encode([NetworkOutcome(name: "lan", action: .unchanged)], pretty: false)
        #expect(
            json
                == #"[{"action":"unchanged","active":null,"autostartEnabled":false,"changes":[],"error":null,"name":"lan","restartNeeded":false,"started":false,"stopped":false}]"#
        )
    }
}
