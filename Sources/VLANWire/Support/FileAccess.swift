#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reading a file's bytes without Foundation (the hook avoids its start-up cost), bounded in size.
package enum FileAccess {
    package struct ReadError: Error, Equatable, Sendable, CustomStringConvertible {
        package var path: String
        package var errno: Int32
        package var message: String
        package var description: String { "\(path): \(message)" }
    }

    /// The file's contents; refuses files over `limit` bytes. `O_NOFOLLOW` when `followSymlinks` is false.
    package static func read(_ path: String, limit: Int, followSymlinks: Bool = true) throws(ReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { throw error(path) }
        defer { close(fd) }
        return try readAll(fd: fd, path: path, limit: limit)
    }

    /// Everything readable from `fd` (stdin for the hook), refusing more than `limit` bytes.
    package static func readAll(fd: Int32, path: String, limit: Int) throws(ReadError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw error(path)
            }
            if count == 0 { return bytes }
            guard bytes.count + count <= limit else {
                throw ReadError(path: path, errno: EFBIG, message: "larger than \(limit) bytes; refused")
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    package static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func error(_ path: String) -> ReadError {
        let code = errno
        return ReadError(path: path, errno: code, message: String(cString: strerror(code)))
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
            throw ConfigError(file: chosen, key: nil, message: "must be owned by root and not writable by group or others (owner uid \(info.st_uid), mode \(String(info.st_mode & 0o7777, radix: 8))); refused")
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
