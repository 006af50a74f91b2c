#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// vlanwire's one layer over the file system calls (read, write, atomic replace, directories):
/// without Foundation (the hook avoids its start-up cost), one EINTR loop, errors that keep the
/// path, the operation and errno. Netlink and libvirt keep their own C seams.
package enum FileAccess {
    package struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        package var path: String
        package var operation: String
        package var errno: Int32
        package var message: String
        package var description: String { "\(path): \(message)" }
    }

    /// The file's contents; refuses files over `limit` bytes. `O_NOFOLLOW` when `followSymlinks` is false.
    package static func read(_ path: String, limit: Int, followSymlinks: Bool = true) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { throw failure(path, "open") }
        defer { close(fd) }
        return try readAll(fd: fd, path: path, limit: limit)
    }

    /// Everything readable from `fd` (stdin for the hook), refusing more than `limit` bytes.
    package static func readAll(fd: Int32, path: String, limit: Int) throws(Failure) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = retryingOnInterrupt { chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if count < 0 { throw failure(path, "read") }
            if count == 0 { return bytes }
            guard bytes.count + count <= limit else {
                throw Failure(path: path, operation: "read", errno: EFBIG, message: "larger than \(limit) bytes; refused")
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// Writes all of `bytes` to `fd`, across short writes and interrupts; false when the kernel refuses.
    @discardableResult
    package static func writeAll(fd: Int32, _ bytes: some Collection<UInt8>) -> Bool {
        let bytes = Array(bytes)
        var offset = 0
        while offset < bytes.count {
            let count = retryingOnInterrupt { bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
            guard count > 0 else { return false }
            offset += count
        }
        return true
    }

    /// Writes `bytes` to a temp file beside `path` (`mode`, never through a symlink) and renames it
    /// over `path`, so a reader (libvirt, systemd, the next hook) sees the old file or the new one;
    /// `sync` flushes it to disk first.
    package static func replace(_ path: String, with bytes: [UInt8], mode: UInt32, sync: Bool) throws(Failure) {
        let temporary = "\(path).\(getpid()).tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure(temporary, "create") }
        // The umask narrowed the mode given to open.
        let complete = writeAll(fd: fd, bytes) && fchmod(fd, mode) == 0 && (!sync || fsync(fd) == 0)
        let error = failure(temporary, "write")
        close(fd)
        guard complete else {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = failure(path, "rename")
            unlink(temporary)
            throw error
        }
    }

    /// Creates the directory `path` with `mode` unless a directory (not a symlink) is there already.
    package static func makeDirectory(_ path: String, mode: UInt32) throws(Failure) {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw Failure(path: path, operation: "mkdir", errno: ENOTDIR, message: "exists and is not a directory")
            }
            return
        }
        guard mkdir(path, mode) == 0 || errno == EEXIST else { throw failure(path, "mkdir") }
    }

    package static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// `call` again while it fails with EINTR (a signal arrived before anything was transferred).
    package static func retryingOnInterrupt<Result: BinaryInteger>(_ call: () -> Result) -> Result {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }

    /// A failure of `operation` on `path` from the current errno.
    package static func failure(_ path: String, _ operation: String) -> Failure {
        let code = errno
        return Failure(path: path, operation: operation, errno: code, message: String(cString: strerror(code)))
    }
}

extension HostConfig {
    /// Reads the config file. Nil when `path` is the default and it does not exist (no config: infer).
    public static func load(path: String?) throws(ConfigError) -> HostConfig? {
        let chosen = path ?? Self.defaultPath
        let fd = open(chosen, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            if path == nil, code == ENOENT { return nil }
            throw ConfigError(file: chosen, key: nil, message: String(cString: strerror(code)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw ConfigError(file: chosen, key: nil, message: "not a regular file")
        }
        // Run as root (the hook), the config decides what gets wired: only root may have written it.
        if geteuid() == 0, info.st_uid != 0 || info.st_mode & 0o022 != 0 {
            throw ConfigError(
                file: chosen, key: nil,
                message:
                    "must be owned by root and not writable by group or others (owner uid \(info.st_uid), mode \(String(info.st_mode & 0o7777, radix: 8))); refused"
            )
        }
        let bytes: [UInt8]
        do { bytes = try FileAccess.readAll(fd: fd, path: chosen, limit: 1 << 20) } catch {
            throw ConfigError(file: chosen, key: nil, message: error.message)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(file: chosen, key: nil, message: "not valid UTF-8")
        }
        return try HostConfig(toml: text, path: chosen)
    }
}
