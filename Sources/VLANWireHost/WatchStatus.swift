import VLANWire
#if canImport(Glibc)
import Glibc
#endif

/// What a running `vlanwire watch` tells `vlanwire status` and `vlanwire doctor`, in
/// `STATE_DIR/watch.json`: whether it runs, whether it hears libvirt, and its last repair.
public struct WatchStatus: Codable, Equatable, Sendable {
    public struct Event: Codable, Equatable, Sendable {
        /// UTC, ISO 8601.
        public var at: String
        public var line: String

        public init(at: String, line: String) {
            self.at = at
            self.line = line
        }
    }

    public var pid: Int32
    public var startedAt: String
    public var uri: String
    /// `connected`, or why not (`reconnecting: libvirtd closed the connection`).
    public var libvirt: String
    public var repairs: Int
    public var lastRepair: Event?
    public var failures: Int
    public var lastFailure: Event?

    public init(pid: Int32, startedAt: String, uri: String, libvirt: String, repairs: Int = 0, lastRepair: Event? = nil,
                failures: Int = 0, lastFailure: Event? = nil) {
        self.pid = pid
        self.startedAt = startedAt
        self.uri = uri
        self.libvirt = libvirt
        self.repairs = repairs
        self.lastRepair = lastRepair
        self.failures = failures
        self.lastFailure = lastFailure
    }

    /// Now, as `at` values (and watch's log lines) are written: UTC with milliseconds.
    public static func now() -> String {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        var seconds = clock.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let milliseconds = String(clock.tv_nsec / 1_000_000)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            + "." + String(repeating: "0", count: 3 - milliseconds.count) + milliseconds + "Z"
    }

    /// Whether the process that wrote this is a live `vlanwire watch` (not a reused pid).
    public var isRunning: Bool {
        guard kill(pid, 0) == 0 || errno == EPERM,
              let commandLine = try? FileAccess.read("/proc/\(pid)/cmdline", limit: 4096)
        else { return false }
        let words = commandLine.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return words.first.map { $0.hasSuffix("vlanwire") } == true && words.contains("watch")
    }
}

extension StateStore {
    var watchStatusPath: String { directory + "/watch.json" }

    /// Replaces `watch.json` (temp file and rename: a reader sees the old or the new file).
    public func writeWatchStatus(_ status: WatchStatus) throws {
        try prepareDirectory()
        try replaceFile(watchStatusPath, with: Array(JSON.encode(status).utf8), sync: false)
    }

    /// The last `watch.json`, or nil when watch never ran here (or the file is not ours).
    public func watchStatus() -> WatchStatus? {
        guard let bytes = try? FileAccess.read(watchStatusPath, limit: 1 << 20, followSymlinks: false) else { return nil }
        return try? JSON.decode(WatchStatus.self, from: bytes, what: watchStatusPath)
    }
}
