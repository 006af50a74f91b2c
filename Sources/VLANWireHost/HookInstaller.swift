import VLANWire

#if canImport(Glibc)
    import Glibc
#endif

/// Installs the hook libvirt runs: `<dir>/qemu`, or `<dir>/qemu.d/vlanwire` when `<dir>/qemu`
/// belongs to something else (libvirt >= 6.5 runs every executable in qemu.d/ as well).
package struct HookInstaller: Sendable {
    package var directory: String
    /// The vlanwire binary (an absolute path).
    package var binary: String
    /// `vlanwire-hook`, the lean hook beside `binary`, when it is installed: the script execs it
    /// instead of `vlanwire hook qemu` (the same hook, without the CLI's start-up cost).
    package var hookBinary: String?

    package init(directory: String = "/etc/libvirt/hooks", binary: String, hookBinary: String? = nil) {
        self.directory = directory
        self.binary = binary
        self.hookBinary = hookBinary
    }

    /// `vlanwire-hook` beside `binary`, when it is there and executable.
    package static func leanHook(beside binary: String) -> String? {
        let candidate = binary + "-hook"
        return access(candidate, X_OK) == 0 ? candidate : nil
    }

    package struct InstallError: Error, Sendable, CustomStringConvertible {
        package var description: String
    }

    package struct Result: Sendable, Equatable {
        package var path: String
        /// False when the file already had this content.
        package var changed: Bool
        /// Set when `<dir>/qemu` belongs to another tool and was left alone.
        package var foreignHook: String?
    }

    /// In every script install-hook writes (and wrote): how it tells its own hook from another tool's.
    package static let marker = "vlanwire hook qemu"

    package var script: String {
        """
        #!/bin/sh
        # libvirt's qemu hook (\(Self.marker)), installed by `vlanwire install-hook`: libvirt
        # runs it as `qemu GUEST OP SUBOP EXTRA` with the domain XML on stdin.
        exec \(hookBinary.map { "\($0) \"$@\"" } ?? "\(binary) hook qemu \"$@\"")

        """
    }

    package func install() throws(InstallError) -> Result {
        try Self.checkBinary(binary)
        if let hookBinary { try Self.checkBinary(hookBinary) }
        try Self.makeDirectory(directory)
        let main = directory + "/qemu"
        var target = main
        var foreign: String?
        if let existing = try? FileAccess.read(main, limit: 1 << 20, followSymlinks: false) {
            if !String(decoding: existing, as: UTF8.self).contains(Self.marker) {
                foreign = main
                try Self.makeDirectory(directory + "/qemu.d")
                target = directory + "/qemu.d/vlanwire"
            }
        }
        let changed = try Self.writeFile(Array(script.utf8), to: target, mode: 0o755)
        return Result(path: target, changed: changed, foreignHook: foreign)
    }

    /// The binary goes as it is into a shell script and a unit's ExecStart= (where systemd
    /// expands `%` specifiers): nothing that either would read as more than a path.
    static func checkBinary(_ binary: String) throws(InstallError) {
        guard binary.hasPrefix("/"),
            !binary.contains(where: { $0 == "\"" || $0 == "'" || $0 == "\\" || $0 == "$" || $0 == "`" || $0 == "%" || $0.isNewline || $0 == " " })
        else {
            throw InstallError(
                description: "the binary path '\(binary.escapedForDisplay)' must be absolute and free of quotes, spaces, % and shell characters")
        }
    }

    /// Writes `bytes` to `target` unless it already holds them (then only its mode is set); a
    /// temp file and rename, so libvirt or systemd never reads half a file. True when written.
    static func writeFile(_ bytes: [UInt8], to target: String, mode: mode_t) throws(InstallError) -> Bool {
        if let current = try? FileAccess.read(target, limit: 1 << 20, followSymlinks: false), current == bytes {
            chmod(target, mode)
            return false
        }
        do { try FileAccess.replace(target, with: bytes, mode: mode, sync: false) } catch {
            throw InstallError(description: "write \(target): \(error.operation): \(error.message)")
        }
        return true
    }

    static func makeDirectory(_ path: String) throws(InstallError) {
        do { try FileAccess.makeDirectory(path, mode: 0o755) } catch {
            throw InstallError(description: "\(error.operation) \(path): \(error.message)")
        }
    }
}
