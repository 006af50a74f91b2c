import Foundation
import Logging
import Testing
import VLANWire
import VLANWireNetlink

/// What the machine running the tests can do; decides which tests run and says why others skip.
enum Host {
    static let isRoot = getuid() == 0
    static let rootComment = Comment(rawValue: "needs root: creates and deletes throwaway network namespaces")
    static let capabilities: KernelCapabilities? = {
        guard isRoot else { return nil }
        return try? NetlinkHandle(logger: Logger(label: "vlanwire.tests")).capabilities()
    }()
    static let hasVLANKernel = capabilities.map { $0.vlan8021Q && $0.bridgeVLANFiltering } ?? false
    static let vlanComment = Comment(rawValue: isRoot
        ? "needs 802.1Q and bridge VLAN filtering (\(capabilities?.missingDescription ?? "not detected")); runs in the lab VM"
        : "needs root and 802.1Q + bridge VLAN filtering; runs in the lab VM")

    static let root: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()
    static let binary = root + "/.build/debug/vlanwire"
    static let binaryComment = Comment(rawValue: "needs root and the built binary (.build/debug/vlanwire: swift build)")
    static let canRunBinary = isRoot && FileManager.default.isExecutableFile(atPath: binary)
    /// What the concurrency tests run as libvirt's hook: the binary the lab runs everywhere else
    /// (`VLANWIRE_HOOK_BINARY`: the release build, as installed), else this build's. The fault seam
    /// (`VLANWIRE_TEST_FAULT`) exists only in debug builds, so the fault tests always run `binary`.
    static let hookBinary = ProcessInfo.processInfo.environment["VLANWIRE_HOOK_BINARY"].flatMap { $0.isEmpty ? nil : $0 } ?? binary
}

/// The suites that run the binary and build namespaces, one after another: the issue's "within a
/// a second" bound and the concurrency test's 32 processes must not compete with each other.
@Suite("Reliability", .serialized) enum Reliability {}

/// Counters for the closing figures, printed by the suites (inputs tried, faults injected, runs).
enum Figures {
    static func report(_ what: String, _ count: Int) {
        print("vlanwire-reliability: \(what): \(count)")
    }
}

/// A throwaway network namespace (`vwr-<random>`) and a private state directory (0700).
final class Scene: @unchecked Sendable {
    let name: String
    let stateDirectory: String
    let logger: Logger

    init() throws {
        name = "vwr-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        stateDirectory = "/tmp/" + name + "-state"
        var logger = Logger(label: "vlanwire.reliability")
        logger.logLevel = ProcessInfo.processInfo.environment["VLANWIRE_TEST_TRACE"] != nil ? .trace : .critical
        self.logger = logger
        try Self.run("/usr/sbin/ip", ["netns", "add", name])
    }

    func remove() {
        _ = try? Self.run("/usr/sbin/ip", ["netns", "del", name])
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }

    func namespace() throws -> NetworkNamespace { try NetworkNamespace.named(name) }
    func handle() throws -> NetlinkHandle { try NetlinkHandle(namespace: namespace(), logger: logger) }
    func snapshot() throws -> ObservedState { try handle().snapshot() }

    @discardableResult
    func ip(_ arguments: String...) throws -> String { try Self.run("/usr/sbin/ip", ["-n", name] + arguments) }

    /// A tap stand-in: a veth with libvirt's tap MAC (fe:..) for the guest MAC, optionally in a bridge.
    func tap(_ tap: String, mac: String, in bridge: String? = nil) throws {
        try ip("link", "add", tap, "address", "fe" + mac.dropFirst(2), "type", "veth", "peer", "name", tap + "p")
        try ip("link", "set", tap, "up")
        if let bridge { try ip("link", "set", tap, "master", bridge) }
    }

    struct CommandFailed: Error, CustomStringConvertible { var description: String }

    @discardableResult
    static func run(_ program: String, _ arguments: [String]) throws -> String {
        let result = try Run.process(program, arguments, timeout: .seconds(30))
        guard result.status == 0 else {
            throw CommandFailed(description: "\(program) \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        return result.stdout
    }
}

func withScene<T>(_ body: (Scene) throws -> T) throws -> T {
    let scene = try Scene()
    defer { scene.remove() }
    return try body(scene)
}

/// A subprocess run: stdin fed from a thread (a reader that stops early is not an error), output
/// collected, a hard time bound (killed past it), wall time measured.
enum Run {
    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        var seconds: Double
        var timedOut: Bool
        var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    }

    static func process(_ program: String, _ arguments: [String], stdin: [UInt8] = [], environment: [String: String] = [:],
                        timeout: Duration = .seconds(60)) throws -> Result {
        // A child that refuses its input early closes the pipe: EPIPE for the feeder, not SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        var env = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        env.merge(environment) { $1 }
        process.environment = env
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        let start = ContinuousClock.now
        try process.run()
        let feeder = Thread {
            let handle = input.fileHandleForWriting
            if !stdin.isEmpty {
                stdin.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let count = write(handle.fileDescriptor, raw.baseAddress! + offset, min(65_536, raw.count - offset))
                        if count <= 0 { break }   // EPIPE: the reader refused early
                        offset += count
                    }
                }
            }
            try? handle.close()
        }
        feeder.start()
        let collected = Collected()
        let group = DispatchGroup()
        for (pipe, isOut) in [(output, true), (errors, false)] {
            group.enter()
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                collected.set(data, isOut: isOut)
                group.leave()
            }
        }
        let seconds = Double(timeout.components.seconds)
        var timedOut = false
        if group.wait(timeout: .now() + seconds) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            group.wait()
        }
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - start
        return Result(status: process.terminationStatus, stdout: collected.text(true), stderr: collected.text(false),
                      seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                      timedOut: timedOut)
    }

    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var out = Data(), err = Data()
        func set(_ data: Data, isOut: Bool) { lock.withLock { if isOut { out = data } else { err = data } } }
        func text(_ isOut: Bool) -> String { lock.withLock { String(decoding: isOut ? out : err, as: UTF8.self) } }
    }

    /// `vlanwire hook qemu GUEST OP SUBOP -` inside the scene's namespace, as libvirt runs it.
    static func hook(_ scene: Scene, guest: String, _ operation: String, xml: [UInt8], config: String?,
                     extra: [String: String] = [:], timeout: Duration = .seconds(60), binary: String = Host.binary) throws -> Result {
        var environment = ["VLANWIRE_STATE_DIR": scene.stateDirectory]
        if let config { environment["VLANWIRE_CONFIG"] = config }
        environment.merge(extra) { $1 }
        return try process("/usr/sbin/ip", ["netns", "exec", scene.name, binary, "hook", "qemu", guest, operation, "begin", "-"],
                           stdin: xml, environment: environment, timeout: timeout)
    }
}

/// Writes `text` to a fresh temporary file and returns its path.
func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
    let path = NSTemporaryDirectory() + "vwr-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// What a fault must leave as it was: the kernel's state without operstate, which the kernel
/// changes on its own, late (linkwatch; seen in the lab: a new bridge went from `unknown` to
/// `down` a few seconds after a settled snapshot, on a loaded machine). vlanwire never sets it.
func configuration(_ handle: NetlinkHandle) throws -> ObservedState {
    var state = try handle.snapshot()
    for index in state.links.indices { state.links[index].operState = "-" }
    return state
}

/// A snapshot (without operstate) that has stopped changing.
func settledSnapshot(_ scene: Scene) throws -> ObservedState {
    let handle = try scene.handle()
    var last = try configuration(handle)
    var stable = 0
    for _ in 0..<20 where stable < 3 {
        Thread.sleep(forTimeInterval: 0.2)
        let next = try configuration(handle)
        stable = next == last ? stable + 1 : 0
        last = next
    }
    return last
}

/// Re-reads (without operstate) until equal to `expected` or about three seconds pass; returns the last reading.
func snapshot(_ scene: Scene, settlingTo expected: ObservedState) throws -> ObservedState {
    let handle = try scene.handle()
    var value = try configuration(handle)
    for _ in 0..<30 where value != expected {
        Thread.sleep(forTimeInterval: 0.1)
        value = try configuration(handle)
    }
    return value
}

func differences(_ expected: ObservedState, _ actual: ObservedState) -> String {
    let names = Set(expected.links.map(\.name)).union(actual.links.map(\.name)).sorted()
    return names.compactMap { name in
        let was = expected.link(named: name), now = actual.link(named: name)
        return was == now ? nil : "\(name): expected \(was.map { "\($0)" } ?? "absent")\n  got \(now.map { "\($0)" } ?? "absent")"
    }.joined(separator: "\n")
}

func linkName(_ text: String) -> LinkName { try! LinkName(text) }

/// The stored state, read as the product reads it.
func storedState(_ directory: String) throws -> VLANWireState {
    try VLANWireState(stateJSON: Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/state.json"))))
}
