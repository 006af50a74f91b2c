public import VLANWire
#if canImport(Glibc)
import Glibc
#endif

/// vlanwire's state on disk: `state.json` and `lock` in one directory (`/run/vlanwire`, cleared at
/// boot like the links it describes; `VLANWIRE_STATE_DIR` for tests).
///
/// libvirt runs hooks of different guests concurrently: every change happens under an exclusive
/// `flock` on `lock`, bounded in time; the file is replaced atomically (temp file, fsync, rename);
/// the directory is 0700, files 0600, and nothing is followed through a symlink.
public struct StateStore: Sendable {
    public static let defaultDirectory = "/run/vlanwire"

    public let directory: String
    public let lockTimeout: Duration

    public struct StoreError: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "state \(path): \(message)" }
    }

    public init(directory: String, lockTimeout: Duration = .seconds(10)) {
        self.directory = directory
        self.lockTimeout = lockTimeout
    }

    /// The state directory for a network namespace: the default one for the current namespace,
    /// a subdirectory per named namespace, or `VLANWIRE_STATE_DIR` (only an absolute path is trusted).
    public static func forNamespace(_ name: String?, environment: String? = Self.environmentDirectory) -> StateStore {
        let base = environment ?? defaultDirectory
        return StateStore(directory: name.map { base + "/netns/" + $0 } ?? base)
    }

    public static var environmentDirectory: String? {
        guard let value = getenv("VLANWIRE_STATE_DIR").map({ String(cString: $0) }), value.hasPrefix("/"),
              !value.split(separator: "/").contains("..") else { return nil }
        return value
    }

    var statePath: String { directory + "/state.json" }
    var lockPath: String { directory + "/lock" }

    /// Runs `body` holding the lock, with the stored state (nil when missing or unreadable: the
    /// caller rebuilds it from the kernel), and stores what `body` returns as the new state.
    public func withLock<T>(_ body: (VLANWireState?) throws -> (VLANWireState?, T)) throws -> T {
        try prepareDirectory()
        let lock = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw failure(lockPath, "cannot open lock") }
        defer { close(lock) }
        try acquire(lock)
        defer { flock(lock, LOCK_UN) }
        let (next, result) = try body(load())
        if let next { try save(next) }
        return result
    }

    /// The stored state, without taking the lock (for read-only commands).
    public func peek() -> VLANWireState? { load() }

    private func acquire(_ fd: Int32) throws {
        let clock = ContinuousClock()
        let deadline = clock.now + lockTimeout
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw failure(lockPath, "flock") }
            guard clock.now < deadline else {
                throw StoreError(path: lockPath, message: "another vlanwire held the lock for more than \(lockTimeout)")
            }
            usleep(1000)
        }
    }

    private func prepareDirectory() throws {
        var parent = ""
        for component in directory.split(separator: "/") {
            parent += "/" + component
            if mkdir(parent, 0o700) != 0, errno != EEXIST { throw failure(parent, "cannot create directory") }
        }
        var info = stat()
        guard lstat(directory, &info) == 0 else { throw failure(directory, "stat") }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw StoreError(path: directory, message: "is not a directory (a symlink is not followed)")
        }
        if info.st_mode & 0o077 != 0 { chmod(directory, 0o700) }
    }

    private func load() -> VLANWireState? {
        guard let bytes = try? FileAccess.read(statePath, limit: 16 << 20, followSymlinks: false),
              let state = try? VLANWireState(stateJSON: bytes),
              state.version == VLANWireState.currentVersion
        else { return nil }
        return state
    }

    private func save(_ state: VLANWireState) throws {
        let temporary = "\(statePath).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure(temporary, "cannot create") }
        let bytes = state.stateJSON()
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                close(fd)
                unlink(temporary)
                throw failure(temporary, "write")
            }
            written += count
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, statePath) == 0 else {
            unlink(temporary)
            throw failure(statePath, "rename")
        }
    }

    private func failure(_ path: String, _ what: String) -> StoreError {
        StoreError(path: path, message: "\(what): \(String(cString: strerror(errno)))")
    }
}
