package import VLANWire

#if canImport(Glibc)
    import Glibc
#endif

/// vlanwire's state on disk: `state.json` and `lock` in one directory (`/run/vlanwire`, cleared at
/// boot like the links it describes; `VLANWIRE_STATE_DIR` for tests).
///
/// libvirt runs hooks of different guests concurrently: every change happens under an exclusive
/// `flock` on `lock`, bounded in time (30 s by default, then a clear error: libvirt waits for the
/// hook, so a wait must end; the bound restarts while other runs get and release the lock, see
/// `acquire`); the file is replaced atomically (temp file, fsync, rename) and only
/// when it changed; temp files a killed run left behind are removed under the lock. The directory
/// must be a real directory owned by this user (root) with no group/other write access, else it is
/// refused; it is kept 0700, files 0600. Nothing is followed through a symlink, and a state file
/// owned by another user is ignored (treated as missing: rebuilt from the kernel, deleting nothing).
package struct StateStore: Sendable {
    package static let defaultDirectory = "/run/vlanwire"

    package let directory: String
    package let lockTimeout: Duration
    /// What links recorded here are marked with: the plain mark for a namespace's own state
    /// (`/run/vlanwire`, `/run/vlanwire/netns/NAME`), `vlanwire:DIR` for any other directory.
    package let mark: LinkMark

    package struct StoreError: Error, Sendable, CustomStringConvertible {
        package var path: String
        package var message: String
        package var description: String { "state \(path): \(message)" }
    }

    package init(directory: String, lockTimeout: Duration = .seconds(30)) {
        self.directory = directory
        self.lockTimeout = lockTimeout
        let isNamespaceDefault =
            directory == Self.defaultDirectory
            || (directory.hasPrefix(Self.defaultDirectory + "/netns/") && !directory.dropFirst(Self.defaultDirectory.count + 7).contains("/"))
        mark = LinkMark(stateDirectory: directory, isNamespaceDefault: isNamespaceDefault)
    }

    /// The state directory for a network namespace: the default one for the current namespace,
    /// a subdirectory per named namespace, or `VLANWIRE_STATE_DIR` (only an absolute path is trusted).
    package static func forNamespace(_ name: String?, environment: String? = Self.environmentDirectory) -> StateStore {
        let base = environment ?? defaultDirectory
        return StateStore(directory: name.map { base + "/netns/" + $0 } ?? base)
    }

    package static var environmentDirectory: String? {
        guard let value = getenv("VLANWIRE_STATE_DIR").map({ String(cString: $0) }), value.hasPrefix("/"),
            !value.split(separator: "/").contains("..")
        else { return nil }
        return value
    }

    var statePath: String { directory + "/state.json" }
    var lockPath: String { directory + "/lock" }

    /// Runs `body` holding the lock, with the stored state (nil when missing or unreadable: the
    /// caller rebuilds it from the kernel), and stores what `body` returns as the new state.
    package func withLock<T>(_ body: (VLANWireState?) throws -> (VLANWireState?, T)) throws -> T {
        try prepareDirectory()
        let lock = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw failure(lockPath, "cannot open lock") }
        defer { close(lock) }
        try acquire(lock)
        defer { flock(lock, LOCK_UN) }
        removeLeftoverTemporaries()
        let stored = load()
        let (next, result) = try body(stored)
        if let next, next != stored { try save(next) }
        return result
    }

    /// The stored state, without taking the lock (for read-only commands).
    package func peek() -> VLANWireState? { load() }

    /// Waits for the lock. `lockTimeout` bounds the wait for ONE holder: every holder writes a
    /// ticket (pid and time) into the lock file when it gets the lock, and a waiter that sees the
    /// ticket change knows the queue moves and starts its `lockTimeout` again. So a stuck holder
    /// (the deadlock case) ends the wait after `lockTimeout`, while 32 guests starting at once on a
    /// slow machine all get their turn; the whole wait is still capped at 8 x `lockTimeout`.
    private func acquire(_ fd: Int32) throws {
        let clock = ContinuousClock()
        let start = clock.now
        var deadline = start + lockTimeout
        let cap = start + lockTimeout * 8
        var ticket = Self.ticket(fd)
        var polls = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw failure(lockPath, "flock") }
            let now = clock.now
            polls += 1
            if polls % 20 == 0 {
                let current = Self.ticket(fd)
                if current != ticket {
                    ticket = current
                    deadline = now + lockTimeout
                }
            }
            guard now < deadline, now < cap else {
                let holder = ticket.split(separator: " ").first.map { " (last holder: pid \($0))" } ?? ""
                throw StoreError(
                    path: lockPath,
                    message: now >= cap
                        ? "waited \(lockTimeout * 8) for the lock while other vlanwire runs went first; giving up"
                        : "another vlanwire held the lock for more than \(lockTimeout)\(holder)")
            }
            usleep(1000)
        }
        var line = Array("\(getpid()) \(clock.now)\n".utf8)
        line += [UInt8](repeating: UInt8(ascii: " "), count: max(0, 64 - line.count))
        _ = line.prefix(64).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    private static func ticket(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
    }

    package func prepareDirectory() throws {
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
        guard info.st_uid == geteuid() else {
            throw StoreError(
                path: directory, message: "is owned by uid \(info.st_uid), not \(geteuid()); refused (remove it, vlanwire recreates it 0700)")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw StoreError(
                path: directory, message: "is writable by group or others (mode \(String(info.st_mode & 0o7777, radix: 8))); refused (chmod 0700 it)")
        }
        if info.st_mode & 0o077 != 0 { chmod(directory, 0o700) }
    }

    /// `state.json.PID.tmp` files: a run killed between creating its temp file and renaming it.
    /// Called under the lock, when no other run can be writing one.
    private func removeLeftoverTemporaries() {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix("state.json."), name.hasSuffix(".tmp") else { continue }
            unlink(directory + "/" + name)
        }
    }

    private func load() -> VLANWireState? {
        let fd = open(statePath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // A regular file of ours: not a FIFO (which would block), not planted by another user.
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid() else { return nil }
        guard let bytes = try? FileAccess.readAll(fd: fd, path: statePath, limit: 16 << 20),
            let state = try? VLANWireState(stateJSON: bytes),
            state.version == VLANWireState.currentVersion
        else { return nil }
        return state
    }

    private func save(_ state: VLANWireState) throws {
        try replaceFile(statePath, with: state.stateJSON(), sync: true)
    }

    /// Replaces `path` atomically (0600): a reader sees the old file or the new one.
    package func replaceFile(_ path: String, with bytes: [UInt8], sync: Bool) throws {
        do { try FileAccess.replace(path, with: bytes, mode: 0o600, sync: sync) } catch {
            throw StoreError(path: error.path, message: "\(error.operation): \(error.message)")
        }
    }

    private func failure(_ path: String, _ what: String) -> StoreError {
        StoreError(path: path, message: "\(what): \(String(cString: strerror(errno)))")
    }
}
