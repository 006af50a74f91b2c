import Foundation
import Logging
import Testing
import VLANWire
import VLANWireNetlink
import VLANWireTestSupport

/// The kernel's link announcements, read by `LinkMonitor` in a throwaway namespace (root).
@Suite(.enabled(if: Host.isRoot, Host.rootComment), .serialized)
struct LinkMonitorTests {
    /// Reads until `condition` holds for the changes seen so far, or two seconds pass.
    static func changes(_ monitor: LinkMonitor, until condition: ([LinkMonitor.Change]) -> Bool) throws -> [LinkMonitor.Change] {
        var seen: [LinkMonitor.Change] = []
        let deadline = ContinuousClock.now + .seconds(2)
        while !condition(seen), ContinuousClock.now < deadline {
            var descriptor = pollfd(fd: monitor.fileDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, 100)
            let reading = try monitor.read()
            #expect(!reading.overflowed)
            seen += reading.changes
        }
        return seen
    }

    @Test func announcesATapJoiningABridgeAndLeaving() throws {
        let scene = try Scene()
        defer { scene.remove() }
        let monitor = try LinkMonitor(namespace: scene.namespace(), logger: scene.logger)
        #expect(try monitor.read().changes.isEmpty, "nothing yet, and read() does not block")

        try scene.ip("link", "add", "br0", "type", "bridge")
        try scene.ip("link", "add", "vnet0", "address", "fe:54:00:00:00:01", "type", "veth", "peer", "name", "g0")
        try scene.ip("link", "set", "vnet0", "master", "br0")
        let joined = try Self.changes(monitor) { $0.contains { $0.name == "vnet0" && $0.masterIndex != nil } }
        let bridge = try #require(joined.first { $0.name == "br0" })
        let tap = try #require(joined.last { $0.name == "vnet0" })
        #expect(tap.masterIndex == bridge.index, "\(joined)")
        #expect(tap.mac == (try MACAddress(parsing: "fe:54:00:00:00:01")))
        #expect(!tap.removed)

        try scene.ip("link", "del", "vnet0")
        let gone = try Self.changes(monitor) { $0.contains { $0.name == "vnet0" && $0.removed } }
        #expect(gone.contains { $0.index == tap.index && $0.removed }, "\(gone)")
    }
}
