#if canImport(Glibc)
    import Glibc
#endif

/// What a running `vlanwire watch` writes to `STATE_DIR/watch.json` for `vlanwire status` and
/// `vlanwire doctor`: whether it hears libvirt, and its last repair and failure. Readers fill in
/// `running` (whether the process that wrote it still runs; see `StateStore.watchStatus()`).
public struct WatchStatus: Codable, Equatable, Sendable {
    public struct Event: Codable, Equatable, Sendable {
        /// UTC, ISO 8601, milliseconds.
        public var at: String
        public var line: String

        public init(at: String, line: String) {
            self.at = at
            self.line = line
        }
    }

    /// Whether `pid` is still a live `vlanwire watch`: set by readers, nil in the file itself.
    @NullWhenAbsent public var running: Bool?
    public var pid: Int32
    public var startedAt: String
    public var uri: String
    /// `connected`, or why not (`reconnecting: libvirtd closed the connection`).
    public var libvirt: String
    public var repairs: Int
    @NullWhenAbsent public var lastRepair: Event?
    public var failures: Int
    @NullWhenAbsent public var lastFailure: Event?

    public init(
        running: Bool? = nil, pid: Int32, startedAt: String, uri: String, libvirt: String, repairs: Int = 0,
        lastRepair: Event? = nil, failures: Int = 0, lastFailure: Event? = nil
    ) {
        self.running = running
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

    /// Watch lost libvirt and retries: until it reconnects it hears of no guest change.
    public var isReconnecting: Bool { libvirt.hasPrefix("reconnecting") }

    /// `status`'s lines about watch for the state directory `stateDirectory`; `view` is nil when
    /// watch never ran with it.
    public static func text(_ view: WatchStatus?, stateDirectory: String) -> String {
        guard let view else { return "watch: not running (never ran for \(stateDirectory.escapedForDisplay))\n" }
        let counts = "\(view.repairs) repair\(view.repairs == 1 ? "" : "s"), \(view.failures) failure\(view.failures == 1 ? "" : "s")"
        // watch.json is a file: its strings are shown one line each, whatever they hold.
        let started = view.startedAt.withoutControlCharacters
        var out =
            view.running == true
            ? "watch: running since \(started) (pid \(view.pid)); libvirt \(view.uri.withoutControlCharacters): \(view.libvirt.withoutControlCharacters); \(counts)\n"
            : "watch: not running (last ran: started \(started), pid \(view.pid)); \(counts)\n"
        for (what, event) in [("repair", view.lastRepair), ("failure", view.lastFailure)] {
            guard let event else { continue }
            out += "  last \(what) \(event.at.withoutControlCharacters): \(event.line.withoutControlCharacters)\n"
        }
        return out
    }

}
