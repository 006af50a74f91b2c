#if canImport(Glibc)
    import Glibc
#endif

/// A crash of the hook (a Swift trap, a C++ abort in a library, a bad memory access) ends with one
/// clear line on stderr — libvirt shows the hook's stderr in `virsh start`'s error — and the exit
/// status the operation calls for, instead of the runtime's multi-page backtrace.
package enum CrashLine {
    nonisolated(unsafe) private static var line: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) private static var length = 0
    nonisolated(unsafe) private static var status: Int32 = 1

    /// `context` names what was running (e.g. `hook qemu web1 prepare`); `exitStatus` is what the
    /// process exits with after a crash (0 where libvirt must not see a failure: release, reconnect).
    package static func install(context: String, exitStatus: Int32) {
        let text =
            "vlanwire: internal error (crashed) during \(context.withoutControlCharactersForCrash); nothing more was changed; see syslog (journalctl -t vlanwire) and report it\n"
        line = strdup(text)
        length = text.utf8.count
        status = exitStatus
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            if let line = CrashLine.line { _ = write(2, line, CrashLine.length) }
            _exit(CrashLine.status)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        for signal in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGABRT] { sigaction(signal, &action, nil) }
    }
}

extension String {
    fileprivate var withoutControlCharactersForCrash: String {
        String(unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
    }
}
