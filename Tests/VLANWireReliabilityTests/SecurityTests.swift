import Foundation
import Testing
import VLANWire
import VLANWireHost
import VLANWireTestSupport

/// Issue 9, part 5 (SECURITY.md): properties checked against the sources and the built binary.
@Suite("Security properties")
struct SecurityTests {
    static func sources() throws -> [(path: String, text: String)] {
        let base = Repository.path("Sources")
        let files = FileManager.default.enumerator(atPath: base)?.compactMap { $0 as? String } ?? []
        return try files.filter { $0.hasSuffix(".swift") || $0.hasSuffix(".c") || $0.hasSuffix(".h") }.sorted().map { file in
            (file, try String(contentsOfFile: base + "/" + file, encoding: .utf8))
        }
    }

    /// Code without comments and string literals' contents, so documentation may mention what the
    /// code must not do.
    static func code(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            let trimmed = line.drop { $0 == " " }
            if trimmed.hasPrefix("//") || trimmed.hasPrefix("*") || trimmed.hasPrefix("/*") { return "" }
            if let comment = line.range(of: " //") { return line[..<comment.lowerBound] }
            return line
        }.joined(separator: "\n")
    }

    /// No shell, no external program: nothing in Sources can start a process. (The hook file
    /// `install-hook` writes starts with `#!/bin/sh`: libvirt runs it, vlanwire never does.)
    @Test func noSourceStartsAProcess() throws {
        let forbidden = [
            "posix_spawn", "execv", "execl", "execve", "execvp", "system(", "popen(", "fork(", "vfork(",
            "Process(", "Process.run", "NSTask", "Foundation.Process", "\"/bin/sh\"", "\"-c\"", "dlopen(\"/",
        ]
        let files = try Self.sources()
        #expect(files.count > 50, "found the sources")
        for (path, text) in files {
            let code = Self.code(text)
            for word in forbidden {
                #expect(!code.contains(word), "\(path) uses \(word)")
            }
        }
    }

    /// vlanwire-hook, what libvirt runs on every guest start, links only the core, netlink and host
    /// modules: no Foundation, no argument parser, no templates, no C++ library of its own; and it
    /// imports no process-starting function either.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: Binary.lean), "needs the built vlanwire-hook (swift build)"))
    func theLeanHookLinksOnlyWhatTheHookNeeds() throws {
        let needed = try Subprocess.run("/usr/bin/readelf", ["-d", Binary.lean], timeout: .seconds(30))
        #expect(needed.status == 0, "\(needed.stderr)")
        let libraries = needed.stdout.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        #expect(libraries.contains { $0.contains("libnl-route-3") }, "read the dynamic section: \(libraries)")
        for library in libraries {
            #expect(!library.contains("Foundation") && !library.contains("libxml") && !library.contains("libvirt"), "\(library)")
        }
        let symbols = try Subprocess.run("/usr/bin/nm", [Binary.lean], timeout: .seconds(60))
        #expect(symbols.status == 0, "\(symbols.stderr)")
        for module in [
            "10Foundation", "20FoundationEssentials", "14ArgumentParser", "8Mustache", "7TOMLKit", "15VLANWireLibvirt", "15VLANWireReports",
        ] {
            #expect(!symbols.stdout.contains("$s\(module)"), "vlanwire-hook links \(module.drop { $0.isNumber })")
        }
        let imported = try Subprocess.run("/usr/bin/nm", ["-D", "--undefined-only", Binary.lean], timeout: .seconds(30))
        for spawn in ["posix_spawn", "execve", "execvp", "fork", "vfork", "system", "popen"] {
            #expect(!imported.stdout.split(separator: "\n").contains { $0.hasSuffix(" " + spawn) || $0.contains(" \(spawn)@") }, "\(spawn)")
        }
    }

    /// The built binary imports no process-starting function from libc either (a dependency could).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: Binary.vlanwire), "needs the built binary (swift build)"))
    func theBinaryImportsNoProcessStartingSymbol() throws {
        let result = try Subprocess.run("/usr/bin/nm", ["-D", "--undefined-only", Binary.vlanwire], timeout: .seconds(30))
        #expect(result.status == 0, "\(result.stderr)")
        let symbols = Set(
            result.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
                .map { $0.split(separator: "@").first.map(String.init) ?? $0 })
        #expect(symbols.contains("setns"), "read the symbol table")
        let forbidden: Set = [
            "posix_spawn", "posix_spawnp", "execv", "execve", "execvp", "execvpe", "execl", "execlp", "execle",
            "system", "popen", "fork", "vfork", "clone", "clone3",
        ]
        #expect(symbols.intersection(forbidden).isEmpty, "\(symbols.intersection(forbidden))")
    }

    /// The environment variables the product reads: exactly the documented ones.
    @Test func onlyDocumentedEnvironmentVariablesAreRead() throws {
        var read: Set<String> = []
        for (_, text) in try Self.sources() {
            var rest = Substring(Self.code(text))
            while let range = rest.range(of: "getenv(\"") {
                let after = rest[range.upperBound...]
                if let end = after.firstIndex(of: "\"") { read.insert(String(after[..<end])) }
                rest = after
            }
            let code = Self.code(text)
            #expect(!code.contains("ProcessInfo"), "the product reads its environment only through getenv")
            #expect(!code.contains("__environ") && !code.contains(" environ[") && !code.contains("environ)"), "no walk over the whole environment")
        }
        #expect(read == ["VLANWIRE_STATE_DIR", "VLANWIRE_CONFIG", "VLANWIRE_LOG", "VLANWIRE_TEST_FAULT", "LIBVIRT_DEFAULT_URI"])
        let security = try String(contentsOfFile: Repository.path("SECURITY.md"), encoding: .utf8)
        for name in read { #expect(security.contains(name), "SECURITY.md documents \(name)") }
    }

    /// The DEBUG-only seam is compiled out of release builds.
    @Test func theTestSeamIsDebugOnly() throws {
        let executor = try String(contentsOfFile: Repository.path("Sources/VLANWireNetlink/Executor.swift"), encoding: .utf8)
        let getenvLine = try #require(executor.range(of: "getenv(\"VLANWIRE_TEST_FAULT\")"))
        let before = executor[..<getenvLine.lowerBound]
        #expect(before.range(of: "#if DEBUG", options: .backwards) != nil)
        #expect(
            before.range(of: "#if DEBUG", options: .backwards)!.lowerBound
                > (before.range(of: "#endif", options: .backwards)?.lowerBound ?? before.startIndex))
    }

    /// VLANWIRE_STATE_DIR: only an absolute path without `..` is taken.
    @Test(arguments: ["relative/dir", "/run/../etc", "", "../x"])
    func anUntrustworthyStateDirectoryVariableIsIgnored(_ value: String) {
        #expect(StateStore.forNamespace(nil, environment: nil).directory == StateStore.defaultDirectory)
        setenv("VLANWIRE_STATE_DIR", value, 1)
        defer { unsetenv("VLANWIRE_STATE_DIR") }
        #expect(StateStore.environmentDirectory == nil, "\(value)")
    }

    /// A VLANWIRE_CONFIG that is not an absolute path is refused, not resolved against the cwd.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: Binary.vlanwire), "needs the built binary (swift build)"))
    func aRelativeConfigVariableIsRefused() throws {
        let result = try Subprocess.run(
            Binary.vlanwire, ["plan", Repository.path("Examples/mixed/app1.xml")],
            environment: ["VLANWIRE_CONFIG": "Examples/mixed/vlanwire.toml"], cleanEnvironment: true)
        #expect(result.status == 1)
        #expect(result.stderr.contains("VLANWIRE_CONFIG must be an absolute path"), "\(result.stderr)")
    }

    /// Run as root, a config file another user owns or may write is refused (it decides the wiring).
    @Test(.enabled(if: Host.isRoot, Host.rootComment))
    func aConfigOthersCanWriteIsRefusedForRoot() throws {
        let path = try temporaryFile("vlanwire.toml", Array("[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\n".utf8))
        defer { unlink(path) }
        chmod(path, 0o644)
        #expect(try HostConfig.load(path: path) != nil)
        chmod(path, 0o666)
        #expect(throws: ConfigError.self) { try HostConfig.load(path: path) }
        chmod(path, 0o644)
        chown(path, 65534, 65534)
        do {
            _ = try HostConfig.load(path: path)
            Issue.record("a config owned by uid 65534 was accepted")
        } catch {
            #expect(error.description.contains("must be owned by root"), "\(error)")
        }
    }

    /// The state directory: a symlink, another user's directory or one others may write is refused.
    @Test(.enabled(if: Host.isRoot, Host.rootComment))
    func aStateDirectoryNotOursIsRefused() throws {
        let base = "/tmp/vwr-statedir-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        mkdir(base, 0o755)
        func attempt(_ directory: String) -> String? {
            do {
                try StateStore(directory: directory, lockTimeout: .seconds(1)).withLock { _ in (VLANWireState(), ()) }
                return nil
            } catch { return "\(error)" }
        }
        // Ours: created 0700, state 0600.
        #expect(attempt(base + "/ok") == nil)
        var info = stat()
        stat(base + "/ok", &info)
        #expect(info.st_mode & 0o777 == 0o700)
        stat(base + "/ok/state.json", &info)
        #expect(info.st_mode & 0o777 == 0o600)
        // Another user's.
        mkdir(base + "/foreign", 0o700)
        chown(base + "/foreign", 65534, 65534)
        #expect(attempt(base + "/foreign")?.contains("owned by uid 65534") == true)
        #expect(!FileManager.default.fileExists(atPath: base + "/foreign/state.json"))
        // Writable by others.
        mkdir(base + "/open", 0o700)
        chmod(base + "/open", 0o777)
        #expect(attempt(base + "/open")?.contains("writable by group or others") == true)
        // A symlink to a directory.
        symlink(base + "/ok", base + "/link")
        #expect(attempt(base + "/link")?.contains("symlink is not followed") == true)
    }

    /// The state's files are rewritten only when they changed (same inode after a run that changes
    /// nothing), and a killed run's temp file is removed by the next run.
    @Test(.enabled(if: Host.isRoot, Host.rootComment))
    func stateIsRewrittenOnlyWhenChangedAndTempFilesAreCleaned() throws {
        let directory = "/tmp/vwr-rewrite-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = StateStore(directory: directory)
        let nic = NICRecord(mac: mac("52:54:00:00:00:01"), policy: .access(vid(5)), bridge: link("br0v5"), uses: [link("br0v5")])
        let state = VLANWireState(guests: [GuestRecord(name: "web1", nics: [nic])])
        try store.withLock { _ in (state, ()) }
        let guestFile = directory + "/guests/web1.json"
        var first = stat()
        var firstGuest = stat()
        var second = stat()
        stat(directory + "/state.json", &first)
        stat(guestFile, &firstGuest)
        #expect(FileManager.default.createFile(atPath: directory + "/state.json.4242.tmp", contents: Data("half".utf8)))
        #expect(FileManager.default.createFile(atPath: guestFile + ".4243.tmp", contents: Data("half".utf8)))
        try store.withLock { stored in (stored, ()) }
        stat(directory + "/state.json", &second)
        #expect(first.st_ino == second.st_ino, "rewritten although unchanged")
        stat(guestFile, &second)
        #expect(firstGuest.st_ino == second.st_ino, "the guest's file rewritten although unchanged")
        #expect(!FileManager.default.fileExists(atPath: directory + "/state.json.4242.tmp"))
        #expect(!FileManager.default.fileExists(atPath: guestFile + ".4243.tmp"), "a run over every guest cleans guests/ too")
        try store.withLock { _ in (VLANWireState(), ()) }
        stat(directory + "/state.json", &second)
        #expect(first.st_ino != second.st_ino, "a change is written (by rename)")
        #expect(!FileManager.default.fileExists(atPath: guestFile), "a forgotten guest's file is removed")
    }

    /// A crash in the hook ends in one clear stderr line and the operation's exit status.
    @Test(.enabled(if: Host.canRunBinary, Host.binaryComment))
    func aHookCrashEndsInOneClearLine() throws {
        try withScene { scene in
            try scene.ip("link", "add", "eth0", "type", "veth", "peer", "name", "sw0")
            try scene.ip("link", "add", "br0", "type", "bridge")
            try scene.ip("link", "set", "eth0", "master", "br0")
            try scene.tap("vnet0", mac: "52:54:00:00:00:01")
            let config = try temporaryFile("vlanwire.toml", Array("[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nvlans = \"1,5\"\n".utf8))
            defer { unlink(config) }
            let xml = Array(
                """
                <domain><name>web1</name><metadata><vw:vlans xmlns:vw="urn:vlanwire:1"><vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='yes' tags='1,5'/></vw:interface></vw:vlans></metadata>
                <devices><interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface></devices></domain>
                """.utf8)
            for (operation, status) in [("start", Int32(1)), ("reconnect", Int32(0))] {
                let result = try scene.hook(
                    guest: "web1", operation, xml: xml, config: config,
                    extra: ["VLANWIRE_TEST_FAULT": "crash-at-action:0", "SWIFT_BACKTRACE": "enable=yes"])
                #expect(result.status == status, "\(operation): \(result.status) \(result.stderr)")
                let ours = result.stderrLines.filter { $0.hasPrefix("vlanwire: internal error (crashed) during hook qemu web1 \(operation)") }
                #expect(ours.count == 1, "\(operation): \(result.stderr)")
                // At most the Swift runtime's own one-line reason before ours; no backtrace.
                #expect(result.stderrLines.count <= 2, "\(operation): \(result.stderr)")
                #expect(!result.stderr.contains("Backtracing") && !result.stderr.contains("Thread 0"), "\(result.stderr)")
            }
        }
    }
}
