import Foundation
import Testing
import VLANWire
import VLANWireNetlink
import VLANWireTestSupport

/// vlanwire never runs another program: every kernel change is a netlink message from its own
/// process. Checked on the built binary with strace, following every thread and child, while it
/// really wires a guest (hook prepare/start/release, apply, release) and reads the kernel (status,
/// doctor, plan): exactly one execve (strace starting vlanwire) and no process created.
@Suite(
    .enabled(if: Host.isRoot, Host.rootComment),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "needs strace (scripts/install-deps installs it)"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: Binary.vlanwire), "needs the built binary (swift build)"))
struct NoExternalProgramTests {
    static let domain = """
        <domain type='kvm'><name>router1</name>
        <metadata><vw:vlans xmlns:vw="urn:vlanwire:1"><vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='yes' tags='1-4094'/></vw:interface></vw:vlans></metadata>
        <devices><interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><target dev='vnet0'/></interface></devices>
        </domain>
        """

    struct Traced {
        var status: Int32
        var stderr: String
        /// strace's lines for execve/execveat and for clone/clone3/fork/vfork.
        var execs: [String]
        var processesCreated: [String]
    }

    /// Runs `vlanwire ARGS` under `strace -f` inside `namespace` (through `ip netns exec`, which
    /// execs strace before vlanwire starts, so only vlanwire is traced).
    func traced(_ arguments: [String], in namespace: String, stdin: String = "", environment: [String: String]) throws -> Traced {
        let trace = NSTemporaryDirectory() + "vw-strace-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments =
            [
                "netns", "exec", namespace, "/usr/bin/strace", "-f", "-qq", "-o", trace,
                "-e", "trace=execve,execveat,fork,vfork,clone,clone3", Binary.vlanwire,
            ] + arguments
        // Under scripts/leaks the binary is built with AddressSanitizer, whose leak check clones a
        // tracer at exit: not a program vlanwire runs, and leaks are scripts/leaks' other tests' job.
        process.environment = Subprocess.bareEnvironment.merging(environment) { $1 }.merging(["ASAN_OPTIONS": "detect_leaks=0"]) { $1 }
        let input = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n").map(String.init)
        // A thread is a clone with CLONE_THREAD; anything else cloned is a new process.
        let created = lines.filter { line in
            (line.contains("clone(") || line.contains("clone3(") || line.contains("fork(")) && !line.contains("CLONE_THREAD")
        }
        return Traced(
            status: process.terminationStatus, stderr: stderr,
            execs: lines.filter { $0.contains("execve(") || $0.contains("execveat(") }, processesCreated: created)
    }

    @Test func wiringAndReadingRunNoOtherProgram() throws {
        try withScene { scene in
            try scene.ip("link", "add", "br0", "type", "bridge")
            try scene.ip("link", "add", "br1", "type", "bridge")
            try scene.ip("link", "add", "vnet0", "address", "fe:54:00:00:00:01", "type", "veth", "peer", "name", "g0")
            try scene.ip("link", "set", "vnet0", "master", "br1")
            let stateDirectory = NSTemporaryDirectory() + "vw-noexec-" + scene.name
            defer { try? FileManager.default.removeItem(atPath: stateDirectory) }
            let xmlFile = stateDirectory + ".xml"
            try Self.domain.write(toFile: xmlFile, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: xmlFile) }
            let environment = ["VLANWIRE_STATE_DIR": stateDirectory]

            let runs: [(String, [String], String)] = [
                ("hook prepare", ["hook", "qemu", "router1", "prepare", "begin", "-"], Self.domain),
                ("hook start", ["hook", "qemu", "router1", "start", "begin", "-"], Self.domain),
                ("status", ["status", "--netns", scene.name, "--no-libvirt", "--json"], ""),
                ("doctor", ["doctor", "--netns", scene.name, "--no-libvirt", "--xml", xmlFile], ""),
                ("plan", ["plan", xmlFile, "--op", "start"], ""),
                ("hook release", ["hook", "qemu", "router1", "release", "end", "-"], Self.domain),
                ("apply", ["apply", xmlFile, "--op", "start", "--netns", scene.name], ""),
                ("release", ["release", xmlFile, "--netns", scene.name], ""),
            ]
            var movedByHook = false
            for (what, arguments, stdin) in runs {
                let run = try traced(arguments, in: scene.name, stdin: stdin, environment: environment)
                #expect(run.execs.count == 1, "\(what): \(run.execs)")
                #expect(run.execs.first?.contains(Binary.vlanwire) == true, "\(what): \(run.execs)")
                #expect(run.processesCreated.isEmpty, "\(what) created processes: \(run.processesCreated)")
                if what == "hook start" {
                    #expect(run.status == 0, "\(run.stderr)")
                    movedByHook = try scene.handle().snapshot().link(named: "vnet0")?.master == "br0"
                }
            }
            // The traced runs did the real work, not an early exit.
            #expect(movedByHook)
        }
    }
}
