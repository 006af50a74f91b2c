package import Logging
import VLANWire

#if canImport(Glibc)
    import Glibc
#endif

/// swift-log to syslog (journald picks it up): one line per action at info; `VLANWIRE_LOG=debug`
/// for more. libvirt runs the hook without a terminal, so syslog is where an admin looks.
package struct SyslogLogHandler: LogHandler {
    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level

    package init(label: String, level: Logger.Level) {
        logLevel = level
        SyslogOpener.openOnce()
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        let priority: Int32 =
            switch event.level {
            case .trace, .debug: LOG_DEBUG
            case .info: LOG_INFO
            case .notice: LOG_NOTICE
            case .warning: LOG_WARNING
            case .error: LOG_ERR
            case .critical: LOG_CRIT
            }
        let line = "\(event.message)".withoutControlCharacters
        // The C string itself: a Swift String as CVarArg is Foundation's NSString bridge, and "%s" then
        // printed the object's bytes (garbage in the journal instead of the message).
        line.withCString { text in withVaList([text]) { vsyslog(priority, "%s", $0) } }
    }
}

/// `openlog` once per process, with the ident kept alive (syslog keeps the pointer).
private enum SyslogOpener {
    nonisolated(unsafe) static let ident: UnsafeMutablePointer<CChar> = strdup("vlanwire")
    static let opened: Void = openlog(ident, LOG_PID, LOG_DAEMON)
    static func openOnce() { _ = opened }
}

/// Log lines on stderr, for commands run by an admin (and the hook with `VLANWIRE_LOG=debug`).
package struct StderrLogHandler: LogHandler {
    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level

    package init(label: String, level: Logger.Level) { logLevel = level }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        let line = "vlanwire: \(event.level): \("\(event.message)".withoutControlCharacters)\n"
        FileAccess.writeAll(fd: 2, line.utf8)
    }
}

extension Logger {
    /// The hook's logger: syslog at info (debug with `VLANWIRE_LOG=debug`, then also stderr).
    package static func forHook() -> Logger {
        let debug = getenv("VLANWIRE_LOG").map { String(cString: $0) } == "debug"
        return Logger(label: "vlanwire.hook") { label in
            var handlers: [any LogHandler] = [SyslogLogHandler(label: label, level: debug ? .debug : .info)]
            if debug { handlers.append(StderrLogHandler(label: label, level: .debug)) }
            return MultiplexLogHandler(handlers)
        }
    }

    /// An admin command's logger: warnings and errors on stderr (`VLANWIRE_LOG=debug|info` for more).
    package static func forCommand(_ name: String) -> Logger {
        let level: Logger.Level =
            switch getenv("VLANWIRE_LOG").map({ String(cString: $0) }) {
            case "debug": .debug
            case "info": .info
            default: .warning
            }
        return Logger(label: "vlanwire.\(name)") { StderrLogHandler(label: $0, level: level) }
    }
}
