package import Logging
package import VLANWire
package import VLANWireHost
import VLANWireReports

#if canImport(Glibc)
    import Glibc
#endif

extension WatchStatus {
    /// Whether the process that wrote this is a live `vlanwire watch` (not a reused pid).
    var writerIsRunning: Bool {
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
    package func writeWatchStatus(_ status: WatchStatus) throws {
        try prepareDirectory()
        var written = status
        written.running = nil
        try replaceFile(watchStatusPath, with: Array(JSON.encode(written).utf8), sync: false)
    }

    /// The last `watch.json` with `running` filled in, or nil when watch never ran with this state
    /// directory (or the file is not readable as one).
    package func watchStatus() -> WatchStatus? {
        guard let bytes = try? FileAccess.read(watchStatusPath, limit: 1 << 20, followSymlinks: false),
            var status = try? JSON.decode(WatchStatus.self, from: bytes, what: watchStatusPath)
        else { return nil }
        status.running = status.writerIsRunning
        return status
    }
}

/// `vlanwire watch`'s log: one line per event on stderr, as text (`TIME LEVEL: message`) or as a
/// JSON object per line (`--json`). Under systemd, both reach the journal.
package struct WatchLogHandler: LogHandler {
    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level
    package let json: Bool

    package init(level: Logger.Level, json: Bool) {
        logLevel = level
        self.json = json
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        let message = "\(event.message)".withoutControlCharacters
        let time = WatchStatus.now()
        let line =
            json
            ? JSON.encode(["time": time, "level": "\(event.level)", "message": message], pretty: false) + "\n"
            : "\(time) \(event.level): \(message)\n"
        FileAccess.writeAll(fd: 2, line.utf8)
    }
}
