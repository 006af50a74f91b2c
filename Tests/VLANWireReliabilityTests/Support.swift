import Foundation
import Testing
import VLANWire
import VLANWireNetlink
import VLANWireTestSupport

/// The suites that run the binary and build namespaces, one after another: the concurrency test's
/// 32 processes must not compete with the others.
@Suite("Reliability", .serialized) enum Reliability {
    /// A run of the binary on bad input that takes longer is hung and is killed. How fast a refusal
    /// is belongs to the benchmarks (Benchmarks/run): a wall-clock bound in a test fails on a loaded
    /// machine (seen: a refusal took 1.6 s while the lab's emulator ran on the other core).
    static let hangBound: Duration = .seconds(10)
}

/// Counters for the closing figures, printed by the suites (inputs tried, faults injected, runs).
enum Figures {
    static func report(_ what: String, _ count: Int) {
        print("vlanwire-reliability: \(what): \(count)")
    }
}

extension Scene {
    /// `vlanwire-hook GUEST OP begin -`, or `vlanwire hook qemu ...`: how `binary` is libvirt's hook.
    static func hookCommand(_ binary: String) -> [String] {
        binary.hasSuffix("/vlanwire-hook") ? [binary] : [binary, "hook", "qemu"]
    }

    /// `vlanwire hook qemu GUEST OP begin -` inside the scene's namespace, as libvirt runs it (a bare
    /// environment), with the scene's state directory. The fault seam (`VLANWIRE_TEST_FAULT`) exists
    /// only in debug builds, so fault tests keep the default `binary`.
    func hook(
        guest: String, _ operation: String, xml: [UInt8], config: String?, extra: [String: String] = [:],
        timeout: Duration = .seconds(60), binary: String = Binary.vlanwire
    ) throws -> ProcessRun {
        var environment = ["VLANWIRE_STATE_DIR": stateDirectory]
        if let config { environment["VLANWIRE_CONFIG"] = config }
        environment.merge(extra) { $1 }
        return try Subprocess.run(
            "/usr/sbin/ip", ["netns", "exec", name] + Self.hookCommand(binary) + [guest, operation, "begin", "-"],
            stdin: xml, environment: environment, cleanEnvironment: true, timeout: timeout)
    }
}

/// Writes `bytes` to a fresh temporary file and returns its path.
func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
    let path = NSTemporaryDirectory() + "vwr-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// A snapshot (without operstate) that has stopped changing.
func settledSnapshot(_ scene: Scene) throws -> ObservedState {
    try settledSnapshot(scene.handle(), withoutOperState: true)
}

/// Re-reads (without operstate) until equal to `expected` or about three seconds pass; returns the last reading.
func snapshot(_ scene: Scene, settlingTo expected: ObservedState) throws -> ObservedState {
    let handle = try scene.handle()
    return try eventually({ try configuration(handle) }, until: { $0 == expected })
}
