package import VLANWire

#if canImport(Glibc)
    import Glibc
#endif

/// vlanwire's state on disk, in one directory (`/run/vlanwire`, cleared at boot like the links it
/// describes; `VLANWIRE_STATE_DIR` for tests): `state.json` (the links vlanwire created and which
/// guests use them), `guests/NAME.json` (one guest's NICs) and `lock`. A hook run reads and writes
/// the host's part and its own guest's file only, so its cost does not grow with the number of
/// guests; `status`, `reconcile` and `watch` read every guest's file.
///
/// libvirt runs hooks of different guests concurrently: every change happens under an exclusive
/// `flock` on `lock`, bounded in time (30 s by default, then a clear error: libvirt waits for the
/// hook, so a wait must end; the bound restarts while other runs get and release the lock, see
/// `acquire`); the file is replaced atomically (temp file, fsync, rename) and only
/// when it changed; temp files a killed run left behind are removed under the lock. Between files
/// the order keeps a killed run safe: `state.json` (the link users) is written before a guest's
/// file, so a link is never without a user whose record says it uses it. The directory
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
    var guestsDirectory: String { directory + "/guests" }
    func guestPath(_ guest: String) -> String { guestsDirectory + "/" + Self.guestFileName(guest) + ".json" }

    /// Runs `body` holding the lock, with the stored state (nil when missing or unreadable: the
    /// caller rebuilds it from the kernel), and stores what `body` returns as the new state.
    /// `guest`: the run is about this guest only; the state holds its record alone (and every
    /// guest's link users). Nil: every guest's record.
    package func withLock<T>(guest: String? = nil, _ body: (VLANWireState?) throws -> (VLANWireState?, T)) throws -> T {
        try prepareDirectory()
        let lock = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw failure(lockPath, "cannot open lock") }
        defer { close(lock) }
        try acquire(lock)
        defer { flock(lock, LOCK_UN) }
        removeLeftoverTemporaries(in: directory)
        if guest == nil { removeLeftoverTemporaries(in: guestsDirectory) }
        let stored = load(guest: guest)
        let (next, result) = try body(stored?.state)
        if let next, next != stored?.state || stored?.isVersion1 == true { try save(next, over: stored) }
        return result
    }

    /// The stored state with every guest's record, without taking the lock (read-only commands).
    package func peek() -> VLANWireState? { load(guest: nil)?.state }

    /// Whether the state records `guest`, without the lock: one file lookup (what a `release` of a
    /// guest vlanwire never wired costs).
    package func records(guest: String) -> Bool {
        if FileAccess.exists(guestPath(guest)) { return true }
        // No guests directory: nothing stored yet, or a version 1 state file with every guest in it.
        return !FileAccess.exists(guestsDirectory) && peek()?.guest(named: guest) != nil
    }

    /// The file name (without `.json`) of a guest's record: the name where it is plain (letters,
    /// digits, `.`, `_`, `-`, not starting with `.`), else every other byte as `%XX`; a name whose
    /// file name would pass 180 bytes is cut and ends in `~` and a hash of the whole name. The
    /// record inside names its guest, and is taken only for that guest.
    package static func guestFileName(_ guest: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        for (position, byte) in guest.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"):
                encoded.append(byte)
            case UInt8(ascii: ".") where position > 0: encoded.append(byte)
            default: encoded += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        guard encoded.count > 180 else { return String(decoding: encoded, as: UTF8.self) }
        // FNV-1a, 64 bits: stable across runs and builds (Hasher is seeded per process).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in guest.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01b3 }
        let digits = String(hash, radix: 16)
        return String(decoding: encoded.prefix(160), as: UTF8.self) + "~" + String(repeating: "0", count: 16 - digits.count) + digits
    }

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
        // Integers only: interpolating the clock's Instant describes it by reflection (2.3 M
        // instructions, a tenth of a hook run).
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        var line = Array("\(getpid()) \(now.tv_sec).\(now.tv_nsec)\n".utf8)
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

    /// `NAME.PID.tmp` files: a run killed between creating its temp file and renaming it.
    /// Called under the lock, when no other run can be writing one.
    private func removeLeftoverTemporaries(in directory: String) {
        for name in Self.entries(of: directory) where name.hasSuffix(".tmp") { unlink(directory + "/" + name) }
    }

    private static func entries(of directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// A state as read, and from where its guests came.
    struct Stored {
        var state: VLANWireState
        /// Read from a version 1 `state.json`, which held every guest: the next save moves them to files.
        var isVersion1: Bool
    }

    /// `state.json`, with the record of `guest` (or of every guest when nil). Nil when
    /// `state.json` is missing or unreadable: guests' files without it are not trusted.
    private func load(guest: String?) -> Stored? {
        guard let bytes = readOwnFile(statePath, limit: 16 << 20), var state = try? VLANWireState(stateJSON: bytes) else { return nil }
        switch state.version {
        case 1:
            // Every guest stays in, whatever the scope: the save that follows writes them all.
            state.version = VLANWireState.currentVersion
            return Stored(state: state, isVersion1: true)
        case VLANWireState.currentVersion:
            if let guest {
                state.guests = loadRecord(guestPath(guest)).flatMap { $0.name == guest ? [$0] : nil } ?? []
            } else {
                state.guests = Self.entries(of: guestsDirectory).sorted().filter { $0.hasSuffix(".json") }.compactMap {
                    loadRecord(guestsDirectory + "/" + $0)
                }
                // Never fewer users than the records say (a run killed between two files).
                for record in state.guests {
                    for link in record.nics.flatMap(\.uses) { state.linkUsers.adding(record.name, to: link) }
                }
            }
            return Stored(state: state, isVersion1: false)
        default:
            return nil
        }
    }

    private func loadRecord(_ path: String) -> GuestRecord? {
        readOwnFile(path, limit: 1 << 20).flatMap { try? GuestRecord(stateJSON: $0) }
    }

    /// A regular file of ours: not a FIFO (which would block), not planted by another user, not through a symlink.
    private func readOwnFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid() else { return nil }
        return try? FileAccess.readAll(fd: fd, path: path, limit: limit)
    }

    /// Writes what changed since `stored`: `state.json`, then the changed guests' files, then the
    /// forgotten guests' files are removed. When nothing (usable) was stored, guests' files the
    /// new state does not list are removed too: they belonged to the lost state.
    private func save(_ next: VLANWireState, over stored: Stored?) throws {
        do { try FileAccess.makeDirectory(guestsDirectory, mode: 0o700) } catch {
            throw StoreError(path: error.path, message: "\(error.operation): \(error.message)")
        }
        let onDisk = stored.map { $0.isVersion1 ? [] : $0.state.guests } ?? []
        let changedGuests = next.guests.filter { record in onDisk.first { $0.name == record.name } != record }
        let writeHost = stored.map { Self.hostPart($0.state) != Self.hostPart(next) || $0.isVersion1 } ?? true
        // A version 1 file still lists every guest: their files first, so a run killed half-way reads it again.
        if stored?.isVersion1 == true {
            for record in changedGuests { try replaceFile(guestPath(record.name), with: record.stateJSON(), sync: true) }
        }
        if writeHost { try replaceFile(statePath, with: next.stateJSON(), sync: true) }
        if stored?.isVersion1 != true {
            for record in changedGuests { try replaceFile(guestPath(record.name), with: record.stateJSON(), sync: true) }
        }
        for record in onDisk where next.guest(named: record.name) == nil { unlink(guestPath(record.name)) }
        if stored == nil || stored?.isVersion1 == true {
            let kept = Set(next.guests.map { Self.guestFileName($0.name) + ".json" })
            for name in Self.entries(of: guestsDirectory) where !kept.contains(name) { unlink(guestsDirectory + "/" + name) }
        }
    }

    /// The state without guests' records: what `state.json` holds.
    private static func hostPart(_ state: VLANWireState) -> VLANWireState {
        var host = state
        host.guests = []
        return host
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
