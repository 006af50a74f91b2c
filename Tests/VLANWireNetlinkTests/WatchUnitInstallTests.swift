import Foundation
import Testing
import VLANWireHost

#if canImport(Glibc)
import Glibc
#endif

/// `vlanwire install-hook --watch`: the unit, written like the hook.
@Suite("vlanwire install-hook --watch")
struct WatchUnitInstallTests {
    static let binary = TraceCommandGoldenTests.root + "/.build/debug/vlanwire"

    func installHook(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["install-hook"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// The unit's text lives in the installer; hooks/ holds the same file for /usr/local/bin.
    @Test func writtenUnitIsTheOneInHooks() throws {
        let files = try TestFiles()
        let installer = WatchUnitInstaller(directory: files.directory.path + "/units", binary: "/usr/local/bin/vlanwire")
        _ = try installer.install()
        let written = try String(contentsOfFile: installer.path, encoding: .utf8)
        let shipped = try String(contentsOfFile: TraceCommandGoldenTests.root + "/hooks/vlanwire-watch.service", encoding: .utf8)
        #expect(written == shipped, "hooks/vlanwire-watch.service differs from WatchUnitInstaller.unit: copy the one over the other")
        var info = stat()
        #expect(stat(installer.path, &info) == 0 && info.st_mode & 0o777 == 0o644)
    }

    /// The hook script lives in the installer too; hooks/qemu is the same file for /usr/local/bin.
    @Test func writtenHookIsTheOneInHooks() throws {
        let files = try TestFiles()
        let installer = HookInstaller(directory: files.directory.path + "/hooks", binary: "/usr/local/bin/vlanwire")
        let shipped = try String(contentsOfFile: TraceCommandGoldenTests.root + "/hooks/qemu", encoding: .utf8)
        #expect(installer.script == shipped, "hooks/qemu differs from HookInstaller.script: copy the one over the other")
    }

    @Test func installsTwiceAndFollowsTheBinary() throws {
        let files = try TestFiles()
        let installer = WatchUnitInstaller(directory: files.directory.path + "/units", binary: "/opt/vlanwire/bin/vlanwire")
        let first = try installer.install(), second = try installer.install()
        #expect(first.path == installer.path && first.changed)
        #expect(second.path == installer.path && !second.changed)
        #expect(try String(contentsOfFile: installer.path, encoding: .utf8).contains("\nExecStart=/opt/vlanwire/bin/vlanwire watch\n"))
        // An older unit of ours is replaced.
        try (WatchUnitInstaller.marker + "\n[Service]\nExecStart=/old watch\n").write(toFile: installer.path, atomically: true, encoding: .utf8)
        #expect(try installer.install().changed)
        #expect(try String(contentsOfFile: installer.path, encoding: .utf8) == installer.unit)
    }

    @Test func leavesAForeignUnitAlone() throws {
        let files = try TestFiles()
        let installer = WatchUnitInstaller(directory: files.directory.path, binary: "/usr/local/bin/vlanwire")
        let foreign = "[Service]\nExecStart=/usr/local/bin/vlanwire watch --guest web1\n"
        try foreign.write(toFile: installer.path, atomically: true, encoding: .utf8)
        #expect(throws: HookInstaller.InstallError.self) { try installer.install() }
        #expect(try String(contentsOfFile: installer.path, encoding: .utf8) == foreign)
        // Nor a symlink (`systemctl link`), whatever it points to.
        let link = WatchUnitInstaller(directory: files.directory.path + "/linked", binary: "/usr/local/bin/vlanwire")
        try FileManager.default.createDirectory(atPath: link.directory, withIntermediateDirectories: true)
        _ = try WatchUnitInstaller(directory: files.directory.path + "/ours", binary: "/usr/local/bin/vlanwire").install()
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: files.directory.path + "/ours/" + WatchUnitInstaller.fileName)
        #expect(throws: HookInstaller.InstallError.self) { try link.install() }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path).hasSuffix("/ours/" + WatchUnitInstaller.fileName))
    }

    /// ProtectHome= and PrivateTmp= would hide the binary from the service.
    @Test func refusesABinaryTheSandboxHides() throws {
        let files = try TestFiles()
        for binary in ["/root/vlanwire/.build/release/vlanwire", "/home/admin/vlanwire", "/tmp/vlanwire"] {
            #expect(throws: HookInstaller.InstallError.self) {
                try WatchUnitInstaller(directory: files.directory.path, binary: binary).install()
            }
        }
        #expect(!FileManager.default.fileExists(atPath: files.directory.path + "/" + WatchUnitInstaller.fileName))
    }

    @Test func commandPrintsWhatToRunAndOffersWatch() throws {
        let files = try TestFiles()
        let common = ["--dir", files.directory.path + "/hooks", "--binary", "/usr/local/bin/vlanwire"]
        let plain = try installHook(common + ["--units-dir", files.directory.path + "/units"])
        #expect(plain.status == 0, "\(plain)")
        #expect(plain.stdout.hasSuffix("keep guests wired between starts: vlanwire install-hook --watch\n"), "\(plain)")
        #expect(!FileManager.default.fileExists(atPath: files.directory.path + "/units"))

        for changed in [true, false] {
            let run = try installHook(common + ["--watch", "--units-dir", files.directory.path + "/units"])
            #expect(run.status == 0, "\(run)")
            let unit = files.directory.path + "/units/vlanwire-watch.service"
            #expect(run.stdout.contains(changed ? "installed \(unit)\n" : "\(unit) is already installed\n"), "\(run)")
            #expect(run.stdout.hasSuffix("systemctl daemon-reload && systemctl enable --now vlanwire-watch.service\n"), "\(run)")
        }

        try "[Service]\n".write(toFile: files.directory.path + "/units/vlanwire-watch.service", atomically: true, encoding: .utf8)
        let refused = try installHook(common + ["--watch", "--units-dir", files.directory.path + "/units"])
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("vlanwire-watch.service exists and is not vlanwire's"), "\(refused)")
    }
}
