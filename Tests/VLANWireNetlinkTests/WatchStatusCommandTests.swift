import ArgumentParser
import Foundation
import Testing
import VLANWire
import VLANWireHost
import VLANWireTestSupport
import VLANWireWatch

@testable import vlanwire

#if canImport(Glibc)
    import Glibc
    import VLANWireReports
#endif

/// A process whose command line is `vlanwire -c ... watch`, as `WatchStatus.isRunning` recognizes a
/// live watch, without libvirt: bash renamed with `exec -a`, waiting on a pipe (its builtin `read`:
/// no child left behind) until killed.
private final class FakeWatch {
    let process = Process()
    let input = Pipe()

    init() throws {
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", #"exec -a /usr/local/bin/vlanwire /bin/bash -c 'read -r _' _ watch"#]
        process.standardInput = input
        try process.run()
        // Until the exec, /proc shows the outer bash.
        for _ in 0..<100 {
            // FileAccess, not String(contentsOfFile:): Foundation's reader leaks on /proc files (LeakSanitizer).
            if let bytes = try? FileAccess.read("/proc/\(process.processIdentifier)/cmdline", limit: 4096),
                String(decoding: bytes, as: UTF8.self).hasPrefix("/usr/local/bin/vlanwire")
            {
                return
            }
            usleep(10_000)
        }
    }

    var pid: Int32 { process.processIdentifier }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

private func watchStatus(pid: Int32) -> WatchStatus {
    WatchStatus(
        pid: pid, startedAt: "2025-06-01T10:00:00Z", uri: "qemu:///system", libvirt: "connected", repairs: 2,
        lastRepair: WatchStatus.Event(at: "2025-06-01T10:05:00Z", line: "guest 'web1': re-applied access:5"),
        failures: 1, lastFailure: WatchStatus.Event(at: "2025-06-01T10:06:00Z", line: "guest 'db1': refused"))
}

/// A pid no process has: above the kernel's pid_max (at most 2^22).
private let deadPID: Int32 = 1 << 23

@Suite("watch.json as status and doctor read it")
struct WatchStatusReadingTests {
    @Test func neverRanIsNil() throws {
        let files = try TemporaryDirectory()
        #expect(StateStore(directory: files.path + "/state").watchStatus() == nil)
    }

    @Test func runningIsWhetherItsPidIsALiveWatch() throws {
        let files = try TemporaryDirectory()
        let store = StateStore(directory: files.path + "/state")
        try store.writeWatchStatus(watchStatus(pid: deadPID))
        let gone = try #require(store.watchStatus())
        #expect(gone.running == false)
        #expect(
            gone
                == WatchStatus(
                    running: false, pid: deadPID, startedAt: "2025-06-01T10:00:00Z", uri: "qemu:///system", libvirt: "connected",
                    repairs: 2, lastRepair: WatchStatus.Event(at: "2025-06-01T10:05:00Z", line: "guest 'web1': re-applied access:5"),
                    failures: 1, lastFailure: WatchStatus.Event(at: "2025-06-01T10:06:00Z", line: "guest 'db1': refused")))

        let watch = try FakeWatch()
        try store.writeWatchStatus(watchStatus(pid: watch.pid))
        #expect(store.watchStatus()?.running == true)
        // A live process that is not a watch (a reused pid) is not one.
        try store.writeWatchStatus(watchStatus(pid: getpid()))
        #expect(store.watchStatus()?.running == false)
    }
}

/// `vlanwire status` and `doctor` on a throwaway namespace: its state directory is
/// /run/vlanwire/netns/NAME (or under $VLANWIRE_STATE_DIR), removed afterwards.
@Suite("vlanwire status and doctor: watch", .enabled(if: Host.isRoot, Host.rootComment))
struct WatchStatusCommandTests {
    func withStore(_ scene: Scene, _ body: (StateStore) throws -> Void) throws {
        let store = StateStore.forNamespace(scene.name)
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        try body(store)
    }

    @Test func statusSaysWhetherWatchRunsForThisStateDirectory() throws {
        try withScene { scene in
            try withStore(scene) { store in
                let command = try Status.parse(["--netns", scene.name, "--no-libvirt"])
                #expect(
                    try command.output().hasSuffix(
                        """
                        watch: not running (never ran for \(store.directory))

                        libvirt: not asked (--no-libvirt); the kernel's view only.

                        """))
                let never = try Status.parse(["--netns", scene.name, "--no-libvirt", "--json"]).output()
                let object = try #require(try JSONSerialization.jsonObject(with: Data(never.utf8)) as? [String: Any])
                #expect(object["watch"] is NSNull)

                try store.writeWatchStatus(watchStatus(pid: deadPID))
                #expect(
                    try command.output().contains(
                        """
                        watch: not running (last ran: started 2025-06-01T10:00:00Z, pid \(deadPID)); 2 repairs, 1 failure
                          last repair 2025-06-01T10:05:00Z: guest 'web1': re-applied access:5
                          last failure 2025-06-01T10:06:00Z: guest 'db1': refused

                        """))

                let watch = try FakeWatch()
                try store.writeWatchStatus(watchStatus(pid: watch.pid))
                #expect(
                    try command.output().contains(
                        "watch: running since 2025-06-01T10:00:00Z (pid \(watch.pid)); libvirt qemu:///system: connected; 2 repairs, 1 failure\n"))
                let json = try Status.parse(["--netns", scene.name, "--no-libvirt", "--json"]).output()
                let document = try JSONDecoder().decode(StatusDocument.self, from: Data(json.utf8))
                #expect(document.watch?.running == true && document.watch?.pid == watch.pid)
            }
        }
    }

    /// doctor reads watch.json of the namespace's state; with --observed it does not check watch.
    @Test func doctorReportsWatchOfThisStateDirectory() throws {
        try withScene { scene in
            try withStore(scene) { store in
                let files = try TemporaryDirectory()
                let arguments = ["--netns", scene.name, "--no-libvirt", "--config", try files.write("c.toml", DoctorScene.config)]
                var findings = try DoctorCommand.parse(arguments).report().findings.filter { $0.check == .watch }
                #expect(
                    findings.map(\.message) == [
                        "vlanwire watch is not running (never ran here): hot-plugged NICs, drift and live policy changes are not repaired until `vlanwire reconcile`"
                    ])

                let watch = try FakeWatch()
                var reconnecting = watchStatus(pid: watch.pid)
                reconnecting.libvirt = "reconnecting: libvirtd closed the connection"
                try store.writeWatchStatus(reconnecting)
                findings = try DoctorCommand.parse(arguments).report().findings.filter { $0.check == .watch }
                #expect(findings.map(\.severity) == [.warning, .info])
                #expect(findings.last?.message.hasSuffix("): guest 'db1': refused") == true)

                let observed = try files.write("kernel.json", JSON.encode(ObservedState(complete: true, links: [])))
                let fromFile = try DoctorCommand.parse(arguments + ["--observed", observed]).report()
                #expect(!fromFile.findings.contains { $0.check == .watch })
            }
        }
    }
}
