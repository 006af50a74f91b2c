import Foundation
import Testing
import VLANWire
import VLANWireHost
import VLANWireNetlink
import VLANWireTestSupport

/// `Wiring.repair` (what `vlanwire watch` runs per guest) on the real kernel, in a throwaway
/// namespace: it leaves a guest to its hook between prepare and start, and a guest with no tap here
/// alone; it repairs a moved tap and says so in one line per NIC.
@Suite(.enabled(if: Host.isRoot, Host.rootComment), .serialized)
struct RepairTests {
    let mac = "52:54:00:00:00:01"

    func guest() throws -> DomainDescription {
        try DomainDescription(
            xml: Array(
                """
                <domain type='kvm'><name>web1</name>
                <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='\(mac)'><vw:vlan trunk='yes' tags='1-4094'/></vw:interface></vw:vlans></metadata>
                <devices><interface type='bridge'><mac address='\(mac)'/><source bridge='br0'/><target dev='vnet0'/></interface></devices>
                </domain>
                """.utf8), guestHint: "web1")
    }

    @Test func leavesStartingAndAbsentGuestsAloneAndRepairsAMovedTap() throws {
        try withScene { scene in
            try scene.ip("link", "add", "br0", "type", "bridge")
            try scene.ip("link", "add", "br1", "type", "bridge")
            let directory = scene.stateDirectory
            let wiring = Wiring(namespace: try scene.namespace(), store: StateStore(directory: directory), config: nil, logger: scene.logger)

            // No tap yet: nothing of the guest runs here.
            #expect(try wiring.repair(try guest()).status == .skipped("none of its NICs has a tap here (stopping, or not running in this namespace)"))
            // prepare ran, start not yet: its hook is starting it, even once libvirt made the tap.
            _ = try wiring.apply(try guest(), operation: .prepare)
            try scene.ip("link", "add", "vnet0", "address", "fe:54:00:00:00:01", "type", "veth", "peer", "name", "g0")
            try scene.ip("link", "set", "vnet0", "master", "br1")
            #expect(try wiring.repair(try guest()).status == .skipped("its hook is starting it (prepared, not yet started)"))
            #expect(try scene.handle().snapshot().link(named: "vnet0")?.master == "br1", "untouched")
            // Started: the hook wired it; nothing to repair.
            _ = try wiring.apply(try guest(), operation: .start)
            #expect(try wiring.repair(try guest()).status == .unchanged)
            // Drift: moved by hand; repaired, in one line.
            try scene.ip("link", "set", "vnet0", "master", "br1")
            let repair = try wiring.repair(try guest())
            #expect(repair.status == .repaired)
            #expect(
                repair.lines == [
                    "repaired guest 'web1', NIC \(mac) (vnet0), trunk:1-4094: tap vnet0 is in br1; its policy trunk:1-4094 needs br0 -> ip link set vnet0 master br0"
                ])
            #expect(try scene.handle().snapshot().link(named: "vnet0")?.master == "br0")
        }
    }
}
