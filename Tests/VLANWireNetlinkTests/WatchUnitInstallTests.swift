import Foundation
import Testing
import VLANWireHost
import VLANWireTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `vlanwire install-hook --watch`: the unit, written like the hook.
@Suite("vlanwire install-hook --watch")
struct WatchUnitInstallTests {

    func installHook(_ arguments: [String]) throws -> ProcessRun {
        try Subprocess.run(Binary.vlanwire, ["install-hook"] + arguments, cleanEnvironment: true)
    }

    /// The unit's text lives in the installer; hooks/ holds the same file for /usr/local/bin.
    @Test func writtenUnitIsTheOneInHooks() throws {
        let files = try TemporaryDirectory()
        let installer = WatchUnitInstaller(directory: files.path + "/units", binary: "/usr/local/bin/vlanwire")
        _ = try installer.install()
        let written = try String(contentsOfFile: installer.path, encoding: .utf8)
        let shipped = try String(contentsOfFile: Repository.root + "/hooks/vlanwire-watch.service", encoding: .utf8)
        #expect(written == shipped, "hooks/vlanwire-watch.service differs from WatchUnitInstaller.unit: copy the one over the other")
        var info = stat()
        #expect(stat(installer.path, &info) == 0 && info.st_mode & 0o777 == 0o644)
    }

    /// The hook script lives in the installer too; hooks/qemu is the same file for /usr/local/bin.
    @Test func writtenHookIsTheOneInHooks() throws {
        let files = try TemporaryDirectory()
        let installer = HookInstaller(directory: files.path + "/hooks", binary: "/usr/local/bin/vlanwire", hookBinary: "/usr/local/bin/vlanwire-hook")
        let shipped = try String(contentsOfFile: Repository.root + "/hooks/qemu", encoding: .utf8)
        #expect(installer.script == shipped, "hooks/qemu differs from HookInstaller.script: copy the one over the other")
    }

    /// The script execs vlanwire-hook when it is installed beside vlanwire, and `vlanwire hook qemu`
    /// otherwise; either way a second install finds its own hook (not another tool's) and leaves it.
    @Test func hookExecsTheLeanHookWhenItIsBesideTheBinary() throws {
        let files = try TemporaryDirectory()
        let binary = try files.write("vlanwire", "#!/bin/sh\n")
        chmod(binary, 0o755)
        #expect(HookInstaller.leanHook(beside: binary) == nil)
        let plain = HookInstaller(directory: files.path + "/hooks", binary: binary, hookBinary: HookInstaller.leanHook(beside: binary))
        #expect(try plain.install().changed)
        #expect(try String(contentsOfFile: files.path + "/hooks/qemu", encoding: .utf8).contains("exec \(binary) hook qemu \"$@\"\n"))

        let lean = try files.write("vlanwire-hook", "#!/bin/sh\n")
        chmod(lean, 0o755)
        #expect(HookInstaller.leanHook(beside: binary) == lean)
        let installer = HookInstaller(directory: files.path + "/hooks", binary: binary, hookBinary: HookInstaller.leanHook(beside: binary))
        let first = try installer.install()
        #expect(first.changed && first.foreignHook == nil && first.path == files.path + "/hooks/qemu")
        #expect(try String(contentsOfFile: first.path, encoding: .utf8).contains("exec \(lean) \"$@\"\n"))
        let second = try installer.install()
        #expect(!second.changed && second.foreignHook == nil, "its own lean hook taken for another tool's: \(second)")
    }

    @Test func installsTwiceAndFollowsTheBinary() throws {
        let files = try TemporaryDirectory()
        let installer = WatchUnitInstaller(directory: files.path + "/units", binary: "/opt/vlanwire/bin/vlanwire")
        let first = try installer.install()
        let second = try installer.install()
        #expect(first.path == installer.path && first.changed)
        #expect(second.path == installer.path && !second.changed)
        #expect(try String(contentsOfFile: installer.path, encoding: .utf8).contains("\nExecStart=/opt/vlanwire/bin/vlanwire watch\n"))
        // An older unit of ours is replaced.
        try (WatchUnitInstaller.marker + "\n[Service]\nExecStart=/old watch\n").write(toFile: installer.path, atomically: true, encoding: .utf8)
        #expect(try installer.install().changed)
        #expect(try String(contentsOfFile: installer.path, encoding: .utf8) == installer.unit)
    }

    @Test func leavesAForeignUnitAlone() throws {
        let files = try TemporaryDirectory()
        let installer = WatchUnitInstaller(directory: files.path, binary: "/usr/local/bin/vlanwire")
        let foreign = "[Service]\nExecStart=/usr/local/bin/vlanwire watch --guest web1\n"
        try foreign.write(toFile: installer.path, atomically: true, encoding: .utf8)
        #expect(throws: HookInstaller.InstallError.self) { try installer.install() }
        #expect(try String(contentsOfFile: installer.path, encoding: .utf8) == foreign)
        // Nor a symlink (`systemctl link`), whatever it points to.
        let link = WatchUnitInstaller(directory: files.path + "/linked", binary: "/usr/local/bin/vlanwire")
        try FileManager.default.createDirectory(atPath: link.directory, withIntermediateDirectories: true)
        _ = try WatchUnitInstaller(directory: files.path + "/ours", binary: "/usr/local/bin/vlanwire").install()
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: files.path + "/ours/" + WatchUnitInstaller.fileName)
        #expect(throws: HookInstaller.InstallError.self) { try link.install() }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path).hasSuffix("/ours/" + WatchUnitInstaller.fileName))
    }

    /// ProtectHome= and PrivateTmp= would hide the binary from the service.
    @Test func refusesABinaryTheSandboxHides() throws {
        let files = try TemporaryDirectory()
        for binary in ["/root/vlanwire/.build/release/vlanwire", "/home/admin/vlanwire", "/tmp/vlanwire"] {
            #expect(throws: HookInstaller.InstallError.self) {
                try WatchUnitInstaller(directory: files.path, binary: binary).install()
            }
        }
        #expect(!FileManager.default.fileExists(atPath: files.path + "/" + WatchUnitInstaller.fileName))
    }

    @Test func commandPrintsWhatToRunAndOffersWatch() throws {
        let files = try TemporaryDirectory()
        let common = ["--dir", files.path + "/hooks", "--binary", "/usr/local/bin/vlanwire"]
        let plain = try installHook(common + ["--units-dir", files.path + "/units"])
        #expect(plain.status == 0, "\(plain)")
        #expect(plain.stdout.hasSuffix("keep guests wired between starts: vlanwire install-hook --watch\n"), "\(plain)")
        #expect(!FileManager.default.fileExists(atPath: files.path + "/units"))

        for changed in [true, false] {
            let run = try installHook(common + ["--watch", "--units-dir", files.path + "/units"])
            #expect(run.status == 0, "\(run)")
            let unit = files.path + "/units/vlanwire-watch.service"
            #expect(run.stdout.contains(changed ? "installed \(unit)\n" : "\(unit) is already installed\n"), "\(run)")
            #expect(run.stdout.hasSuffix("systemctl daemon-reload && systemctl enable --now vlanwire-watch.service\n"), "\(run)")
        }

        try "[Service]\n".write(toFile: files.path + "/units/vlanwire-watch.service", atomically: true, encoding: .utf8)
        let refused = try installHook(common + ["--watch", "--units-dir", files.path + "/units"])
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("vlanwire-watch.service exists and is not vlanwire's"), "\(refused)")
    }
}
