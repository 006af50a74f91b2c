import Foundation
import Logging
import Testing
import VLANWire
import VLANWireNetlink

/// The kernel's link announcements, read by `LinkMonitor` in a throwaway namespace (root).
@Suite(.enabled(if: getuid() == 0, "needs root: creates and deletes throwaway network namespaces"), .serialized)
struct LinkMonitorTests {
    static func ip(_ namespace: String, _ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["-n", namespace] + arguments
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "ip \(arguments.joined(separator: " "))")
    }

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
        let namespace = "vwm-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let add = Process()
        add.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        add.arguments = ["netns", "add", namespace]
        try add.run()
        add.waitUntilExit()
        defer {
            let delete = Process()
            delete.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            delete.arguments = ["netns", "del", namespace]
            try? delete.run()
            delete.waitUntilExit()
        }
        var logger = Logger(label: "vlanwire.tests")
        logger.logLevel = .critical
        let monitor = try LinkMonitor(namespace: .named(namespace), logger: logger)
        #expect(try monitor.read().changes.isEmpty, "nothing yet, and read() does not block")

        try Self.ip(namespace, "link", "add", "br0", "type", "bridge")
        try Self.ip(namespace, "link", "add", "vnet0", "address", "fe:54:00:00:00:01", "type", "veth", "peer", "name", "g0")
        try Self.ip(namespace, "link", "set", "vnet0", "master", "br0")
        let joined = try Self.changes(monitor) { $0.contains { $0.name == "vnet0" && $0.masterIndex != nil } }
        let bridge = try #require(joined.first { $0.name == "br0" })
        let tap = try #require(joined.last { $0.name == "vnet0" })
        #expect(tap.masterIndex == bridge.index, "\(joined)")
        #expect(tap.mac == (try MACAddress(parsing: "fe:54:00:00:00:01")))
        #expect(!tap.removed)

        try Self.ip(namespace, "link", "del", "vnet0")
        let gone = try Self.changes(monitor) { $0.contains { $0.name == "vnet0" && $0.removed } }
        #expect(gone.contains { $0.index == tap.index && $0.removed }, "\(gone)")
    }
}
