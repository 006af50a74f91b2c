import Foundation
import Logging
import Testing
import VLANWire
import VLANWireNetlink

/// What the machine running the tests can do; decides which tests run and says why others skip.
enum Host {
    static let isRoot = getuid() == 0
    static let rootComment = Comment(rawValue: "needs root: creates and deletes throwaway network namespaces")

    /// Read from the test process's own namespace, read-only.
    static let capabilities: KernelCapabilities? = {
        guard isRoot else { return nil }
        return try? NetlinkHandle(logger: Logger(label: "vlanwire.tests")).capabilities()
    }()

    static let hasVLANKernel = capabilities.map { $0.vlan8021Q && $0.bridgeVLANFiltering } ?? false
    static let vlanComment = Comment(rawValue: isRoot
        ? "needs 802.1Q and bridge VLAN filtering (\(capabilities?.missingDescription ?? "not detected")); runs in the lab VM"
        : "needs root and 802.1Q + bridge VLAN filtering; runs in the lab VM")
}

/// A throwaway network namespace (`vwt-<random>`) for one test, built with `ip`/`bridge` where the
/// scene is not what is under test. The root namespace is never touched.
final class Scene {
    let name: String
    let logger: Logger

    init() throws {
        name = "vwt-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        var logger = Logger(label: "vlanwire.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["VLANWIRE_TEST_TRACE"] != nil ? .trace : .critical
        self.logger = logger
        try Self.run("/usr/sbin/ip", ["netns", "add", name])
    }

    /// Deletes the namespace and with it every link inside.
    func remove() {
        _ = try? Self.run("/usr/sbin/ip", ["netns", "del", name])
    }

    func namespace() throws -> NetworkNamespace { try NetworkNamespace.named(name) }

    func handle(timeout: Duration = .seconds(5)) throws -> NetlinkHandle {
        try NetlinkHandle(namespace: namespace(), timeout: timeout, logger: logger)
    }

    /// `ip -n NS ARGS`.
    @discardableResult
    func ip(_ arguments: String...) throws -> String {
        try Self.run("/usr/sbin/ip", ["-n", name] + arguments)
    }

    /// `bridge -n NS ARGS`.
    @discardableResult
    func bridge(_ arguments: String...) throws -> String {
        try Self.run("/usr/sbin/bridge", ["-n", name] + arguments)
    }

    /// `ip -d -j link show` as JSON objects keyed by name.
    func iproute2Links() throws -> [String: [String: Any]] {
        let text = try Self.run("/usr/sbin/ip", ["-n", name, "-d", "-j", "link", "show"])
        let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: array.map { ($0["ifname"] as? String ?? "", $0) })
    }

    struct CommandFailed: Error, CustomStringConvertible {
        var description: String
    }

    @discardableResult
    static func run(_ program: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailed(description: "\(program) \(arguments.joined(separator: " ")): "
                + String(decoding: errorData, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Runs `body` in a fresh scene and removes the scene afterwards, whatever happens.
func withScene<Result>(_ body: (Scene) throws -> Result) throws -> Result {
    let scene = try Scene()
    defer { scene.remove() }
    return try body(scene)
}

/// Some kernel state settles asynchronously (operstate via linkwatch, STP port state):
/// re-reads until `condition` holds or about three seconds pass; returns the last reading.
func eventually<Value>(_ read: () throws -> Value, until condition: (Value) -> Bool) throws -> Value {
    var value = try read()
    for _ in 0..<30 where !condition(value) {
        Thread.sleep(forTimeInterval: 0.1)
        value = try read()
    }
    return value
}

/// A snapshot that has stopped changing: the same over four reads 0.3 s apart (a bridge brought
/// up shows operstate "unknown" until the kernel's link watch, up to a second later, says "down").
func settledSnapshot(_ handle: NetlinkHandle) throws -> ObservedState {
    var last = try handle.snapshot()
    var stableReads = 0
    for _ in 0..<20 where stableReads < 4 {
        Thread.sleep(forTimeInterval: 0.3)
        let next = try handle.snapshot()
        stableReads = next == last ? stableReads + 1 : 0
        last = next
    }
    return last
}

/// The links that differ between two snapshots, for readable failures.
func differences(_ expected: ObservedState, _ actual: ObservedState) -> String {
    let names = Set(expected.links.map(\.name)).union(actual.links.map(\.name)).sorted()
    return names.compactMap { name in
        let was = expected.link(named: name), now = actual.link(named: name)
        return was == now ? nil : "\(name): expected \(was.map { "\($0)" } ?? "absent")\n  got \(now.map { "\($0)" } ?? "absent")"
    }.joined(separator: "\n")
}

func name(_ text: String) -> LinkName { try! LinkName(text) }
func vid(_ value: Int) -> VLANID { try! VLANID(value) }
