import Foundation
public import Logging
public import Testing
public import VLANWire
public import VLANWireNetlink

/// What the machine running the tests can do; decides which tests run and says why others skip.
public enum Host {
    public static let isRoot = getuid() == 0
    public static let rootComment = Comment(rawValue: "needs root: creates and deletes throwaway network namespaces")

    /// Read from the test process's own namespace, read-only.
    public static let capabilities: KernelCapabilities? = {
        guard isRoot else { return nil }
        return try? NetlinkHandle(logger: Logger(label: "vlanwire.tests")).capabilities()
    }()

    public static let hasVLANKernel = capabilities.map { $0.vlan8021Q && $0.bridgeVLANFiltering } ?? false
    public static let vlanComment = Comment(
        rawValue: isRoot
            ? "needs 802.1Q and bridge VLAN filtering (\(capabilities?.missingDescription ?? "not detected")); runs in the lab VM"
            : "needs root and 802.1Q + bridge VLAN filtering; runs in the lab VM")

    public static var canRunBinary: Bool { isRoot && Binary.isBuilt }
    public static var binaryComment: Comment { Comment(rawValue: "needs root and the built binary (\(Binary.vlanwire): swift build)") }
}

/// A throwaway network namespace (`vwt-<random>`) for one test and a private state directory
/// (`/tmp/NAME-state`, made by whoever uses it), built with `ip`/`bridge` where the scene is not what
/// is under test. The root namespace is never touched.
public final class Scene: @unchecked Sendable {
    public let name: String
    public let stateDirectory: String
    public let logger: Logger

    public init() throws {
        name = "vwt-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        stateDirectory = "/tmp/" + name + "-state"
        var logger = Logger(label: "vlanwire.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["VLANWIRE_TEST_TRACE"] != nil ? .trace : .critical
        self.logger = logger
        try Self.run("/usr/sbin/ip", ["netns", "add", name])
    }

    /// Deletes the namespace, with it every link inside, and the state directory.
    public func remove() {
        _ = try? Self.run("/usr/sbin/ip", ["netns", "del", name])
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }

    public func namespace() throws -> NetworkNamespace { try NetworkNamespace.named(name) }

    public func handle(timeout: Duration = .seconds(5)) throws -> NetlinkHandle {
        try NetlinkHandle(namespace: namespace(), timeout: timeout, logger: logger)
    }

    public func snapshot() throws -> ObservedState { try handle().snapshot() }

    /// `ip -n NS ARGS`.
    @discardableResult
    public func ip(_ arguments: String...) throws -> String {
        try Self.run("/usr/sbin/ip", ["-n", name] + arguments)
    }

    /// `bridge -n NS ARGS`.
    @discardableResult
    public func bridge(_ arguments: String...) throws -> String {
        try Self.run("/usr/sbin/bridge", ["-n", name] + arguments)
    }

    /// A tap stand-in: a veth with libvirt's tap MAC (fe:..) for the guest MAC, up, optionally in a bridge.
    public func tap(_ tap: String, mac: String, in bridge: String? = nil) throws {
        try ip("link", "add", tap, "address", "fe" + mac.dropFirst(2), "type", "veth", "peer", "name", tap + "p")
        try ip("link", "set", tap, "up")
        if let bridge { try ip("link", "set", tap, "master", bridge) }
    }

    /// `ip -d -j link show` as JSON objects keyed by name.
    public func iproute2Links() throws -> [String: [String: Any]] {
        let text = try Self.run("/usr/sbin/ip", ["-n", name, "-d", "-j", "link", "show"])
        let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: array.map { ($0["ifname"] as? String ?? "", $0) })
    }

    /// Runs a program for the scene's setup; its standard output, or `CommandFailed`.
    @discardableResult
    public static func run(_ program: String, _ arguments: [String]) throws -> String {
        try Subprocess.output(program, arguments)
    }
}

/// Runs `body` in a fresh scene and removes the scene afterwards, whatever happens.
public func withScene<Result>(_ body: (Scene) throws -> Result) throws -> Result {
    let scene = try Scene()
    defer { scene.remove() }
    return try body(scene)
}

/// Some kernel state settles asynchronously (operstate via linkwatch, STP port state):
/// re-reads until `condition` holds or about three seconds pass; returns the last reading.
public func eventually<Value>(_ read: () throws -> Value, until condition: (Value) -> Bool) throws -> Value {
    var value = try read()
    for _ in 0..<30 where !condition(value) {
        Thread.sleep(forTimeInterval: 0.1)
        value = try read()
    }
    return value
}

/// The kernel's state without operstate, which the kernel changes on its own, late (linkwatch; seen
/// in the lab: a new bridge went from `unknown` to `down` seconds after a settled snapshot on a
/// loaded machine). vlanwire never sets it, so what vlanwire must leave as it was is this.
public func configuration(_ handle: NetlinkHandle) throws -> ObservedState {
    var state = try handle.snapshot()
    for index in state.links.indices { state.links[index].operState = "-" }
    return state
}

/// A snapshot that has stopped changing: the same over four reads 0.3 s apart (a bridge brought up
/// shows operstate "unknown" until the kernel's link watch, up to a second later, says "down").
/// `withoutOperState` reads `configuration(_:)` instead.
public func settledSnapshot(_ handle: NetlinkHandle, withoutOperState: Bool = false) throws -> ObservedState {
    let read = { withoutOperState ? try configuration(handle) : try handle.snapshot() }
    var last = try read()
    var stableReads = 0
    for _ in 0..<20 where stableReads < 4 {
        Thread.sleep(forTimeInterval: 0.3)
        let next = try read()
        stableReads = next == last ? stableReads + 1 : 0
        last = next
    }
    return last
}

/// The links that differ between two snapshots, for readable failures.
public func differences(_ expected: ObservedState, _ actual: ObservedState) -> String {
    let names = Set(expected.links.map(\.name)).union(actual.links.map(\.name)).sorted()
    return names.compactMap { name in
        let was = expected.link(named: name)
        let now = actual.link(named: name)
        return was == now ? nil : "\(name): expected \(was.map { "\($0)" } ?? "absent")\n  got \(now.map { "\($0)" } ?? "absent")"
    }.joined(separator: "\n")
}

/// Values from literals the test knows to be valid.
public func vid(_ value: Int) -> VLANID { try! VLANID(value) }
public func vset(_ text: String) -> VLANSet { try! VLANSet(parsing: text) }
public func link(_ text: String) -> LinkName { try! LinkName(text) }
public func mac(_ text: String) -> MACAddress { try! MACAddress(parsing: text) }
