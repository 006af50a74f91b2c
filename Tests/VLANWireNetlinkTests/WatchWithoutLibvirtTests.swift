import Foundation
import Testing
import VLANWire
import VLANWireTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `vlanwire watch` while libvirt cannot be reached: it keeps retrying (with backoff) and the link
/// changes it hears wait for the connection; the loop does not spin meanwhile.
@Suite(.enabled(if: Host.isRoot, Host.rootComment), .serialized)
struct WatchWithoutLibvirtTests {

    /// CPU time (clock ticks) the process has used.
    static func ticks(_ pid: Int32) -> Int {
        // FileAccess, not String(contentsOfFile:): Foundation's reader leaks on /proc files (LeakSanitizer).
        guard let bytes = try? FileAccess.read("/proc/\(pid)/stat", limit: 4096) else { return -1 }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return -1 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, utime 14 and stime 15.
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }

    @Test func pendingWorkWaitsForLibvirtWithoutSpinning() throws {
        try withScene { scene in
            let state = scene.stateDirectory
            let watch = Process()
            watch.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            watch.arguments = [
                "netns", "exec", scene.name, Binary.vlanwire, "watch", "--connect", "qemu+unix:///system?socket=/nonexistent/libvirt-sock",
            ]
            watch.environment = Subprocess.bareEnvironment.merging(["VLANWIRE_STATE_DIR": state]) { $1 }
            let log = Pipe()
            watch.standardError = log
            watch.standardOutput = log
            try watch.run()
            defer {
                if watch.isRunning { watch.terminate() }
                watch.waitUntilExit()
            }
            Thread.sleep(forTimeInterval: 1)
            // A libvirt tap joining a bridge: work for watch, which cannot ask libvirt whose it is.
            try scene.ip("link", "add", "br0", "type", "bridge")
            try scene.ip("link", "add", "vnet0", "address", "fe:54:00:00:00:01", "type", "veth", "peer", "name", "g0")
            try scene.ip("link", "set", "vnet0", "master", "br0")
            let before = Self.ticks(watch.processIdentifier)
            Thread.sleep(forTimeInterval: 3)
            let used = Self.ticks(watch.processIdentifier) - before
            #expect(before >= 0 && used < 30, "watch used \(used) of 300 clock ticks in 3 s while libvirt was unreachable")
            watch.terminate()
            watch.waitUntilExit()
            #expect(watch.terminationStatus == 0)
            let text = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(text.contains("retrying"), "\(text)")
        }
    }
}
