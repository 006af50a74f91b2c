internal import CWatchShims
package import Logging
import Synchronization
package import VLANWire
package import VLANWireHost
import VLANWireLibvirt
package import VLANWireNetlink

#if canImport(Glibc)
    import Glibc
#endif

/// `vlanwire watch`: keeps every running guest's NICs as their policies say between hook calls.
///
/// One thread polls three descriptors: the kernel's link announcements (`LinkMonitor`), a wake-up
/// for libvirt's events (delivered on libvirt's event thread into an inbox), and SIGTERM/SIGINT/
/// SIGHUP (a signalfd). A burst of changes is coalesced for `coalescing`, then each guest it
/// concerns is re-read from libvirt and repaired once (`Wiring.repair`, under the hook's lock).
/// At start, and after every reconnect to libvirtd, every running guest is reconciled (changes
/// may have been missed meanwhile). SIGTERM/SIGINT end the loop between repairs; SIGHUP reloads
/// the config.
package final class Watcher {
    package struct Options: Sendable {
        package var uri: String?
        /// Only these guests (names); nil: every guest.
        package var guests: Set<String>?
        package var namespace: NetworkNamespace
        package var store: StateStore
        /// Reads the config (again on SIGHUP); nil when there is none.
        package var loadConfig: @Sendable () throws -> HostConfig?
        /// How long watch waits after the first change of a burst for the rest of it.
        package var coalescing: Duration
        /// The wait before the first reconnect to libvirtd; it doubles up to `maximumReconnectDelay`.
        package var reconnectDelay: Duration
        package var maximumReconnectDelay: Duration

        package init(
            uri: String?, guests: Set<String>? = nil, namespace: NetworkNamespace, store: StateStore,
            loadConfig: @escaping @Sendable () throws -> HostConfig?, coalescing: Duration = .milliseconds(50),
            reconnectDelay: Duration = .milliseconds(500), maximumReconnectDelay: Duration = .seconds(30)
        ) {
            self.uri = uri
            self.guests = guests
            self.namespace = namespace
            self.store = store
            self.loadConfig = loadConfig
            self.coalescing = coalescing
            self.reconnectDelay = reconnectDelay
            self.maximumReconnectDelay = maximumReconnectDelay
        }
    }

    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    private let options: Options
    private let logger: Logger
    private var config: HostConfig?
    private var router = WatchRouter()
    /// The failure last reported per guest: the same refusal on the next change of that guest is
    /// not reported again (status shows it as the last failure) until the guest is fine or fails otherwise.
    private var reportedFailures: [String: [String]] = [:]
    private var status: WatchStatus
    private var connection: LibvirtConnection?
    private var subscription: DomainEventSubscription?
    private let inbox: Inbox
    private let clock = ContinuousClock()

    package init(options: Options, logger: Logger) throws {
        self.options = options
        self.logger = logger
        config = try options.loadConfig()
        inbox = try Inbox()
        status = WatchStatus(
            pid: getpid(), startedAt: WatchStatus.now(),
            uri: LibvirtConnection.resolveURI(options.uri, libvirtDefaultURI: getenv("LIBVIRT_DEFAULT_URI").map { String(cString: $0) }),
            libvirt: "connecting")
    }

    /// Runs until SIGTERM or SIGINT; returns normally then (exit 0).
    package func run() throws {
        // Blocked before libvirt's thread exists, so that thread inherits the mask and the signals
        // reach only the signalfd.
        let signals = try SignalDescriptor()
        do { try LibvirtEventLoop.start() } catch { throw Failure(description: error.description) }
        let monitor = try LinkMonitor(namespace: options.namespace, logger: logger)
        router.learn(options.store.peek() ?? .empty)
        writeStatus()
        logger.info("watching \(options.namespace) and libvirt at \(status.uri); state \(options.store.directory)")

        var pending = WatchWork()
        var deadline: ContinuousClock.Instant?
        var reconnectAt: ContinuousClock.Instant? = clock.now
        var reconnectDelay = options.reconnectDelay
        while true {
            if let due = reconnectAt, clock.now >= due {
                if connect() {
                    reconnectAt = nil
                    reconnectDelay = options.reconnectDelay
                    pending.everything = true
                    deadline = clock.now
                } else {
                    reconnectAt = clock.now + reconnectDelay
                    reconnectDelay = min(reconnectDelay * 2, options.maximumReconnectDelay)
                }
            }
            // Pending work waits for libvirt: without a connection only the reconnect wakes the loop
            // (a past deadline would make poll return at once, again and again).
            let wake = [connection != nil ? deadline : nil, reconnectAt].compactMap { $0 }.min()
            var descriptors = [signals.fileDescriptor, monitor.fileDescriptor, inbox.fileDescriptor].map {
                pollfd(fd: $0, events: Int16(POLLIN), revents: 0)
            }
            let timeout = wake.map { Int32(clamping: max(0, ($0 - clock.now).milliseconds)) } ?? -1
            let ready = poll(&descriptors, nfds_t(descriptors.count), timeout)
            if ready < 0, errno != EINTR { throw Failure(description: "poll: \(String(cString: strerror(errno)))") }

            if descriptors[0].revents != 0 {
                switch signals.take() {
                case SIGHUP:
                    reloadConfig()
                    pending.everything = true
                    deadline = deadline ?? clock.now
                case .some:
                    logger.info("stopping (signal)")
                    subscription?.cancel()
                    return
                case nil:
                    break
                }
            }
            var work = WatchWork()
            if descriptors[1].revents != 0 {
                let reading = try monitor.read()
                if reading.overflowed { work.everything = true }
                for change in reading.changes { work.merge(router.route(change)) }
            }
            if descriptors[2].revents != 0 {
                for message in inbox.take() {
                    switch message {
                    case .event(let event):
                        logger.debug("libvirt: \(event)")
                        work.merge(router.route(event))
                    case .closed(let reason):
                        disconnected(reason)
                        reconnectAt = clock.now + reconnectDelay
                    }
                }
            }
            if !work.isEmpty {
                pending.merge(work)
                deadline = deadline ?? clock.now + options.coalescing
            }
            if let due = deadline, clock.now >= due, connection != nil {
                if process(pending) {
                    pending = WatchWork()
                    deadline = nil
                } else {
                    deadline = nil
                    reconnectAt = reconnectAt ?? clock.now + reconnectDelay
                }
            }
        }
    }

    // MARK: libvirt

    private func connect() -> Bool {
        do {
            let opened = try LibvirtConnection(uri: options.uri, logger: logger)
            try opened.keepAlive(interval: 5, count: 3)
            let inbox = inbox
            try opened.whenClosed { reason in inbox.put(.closed(reason)) }
            subscription = try opened.subscribeToDomainEvents { event in inbox.put(.event(event)) }
            connection = opened
            status.libvirt = "connected"
            writeStatus()
            logger.info("connected to libvirt at \(opened.uri)")
            return true
        } catch {
            subscription = nil
            status.libvirt = "reconnecting: \(error.description)"
            writeStatus()
            logger.warning("libvirt at \(status.uri): \(error.description); retrying")
            return false
        }
    }

    private func disconnected(_ reason: String) {
        guard connection != nil else { return }
        logger.warning("lost libvirt at \(status.uri): \(reason); reconnecting")
        subscription = nil
        connection = nil
        status.libvirt = "reconnecting: \(reason)"
        writeStatus()
    }

    private func reloadConfig() {
        do {
            config = try options.loadConfig()
            logger.info("config reloaded (SIGHUP)")
        } catch {
            logger.error("config not reloaded, keeping the old one: \(error)")
        }
    }

    // MARK: Repairs

    private var wiring: Wiring { Wiring(namespace: options.namespace, store: options.store, config: config, logger: logger) }

    /// One burst's work. False when libvirt could not be asked (the work waits for the reconnect).
    private func process(_ work: WatchWork) -> Bool {
        guard let connection else { return false }
        var work = work
        if let only = options.guests { work.guests.formIntersection(only) }
        if work.everything || work.rescan {
            var running: [RunningGuest]
            do { running = try connection.runningGuests() } catch {
                disconnected(error.description)
                return false
            }
            if let only = options.guests { running.removeAll { !only.contains($0.name) } }
            router.learn(running: running.compactMap(\.domain))
            if work.everything {
                reconcileAll(running)
                router.learn(options.store.peek() ?? .empty)
                return true
            }
            work.guests.formUnion(
                running.compactMap(\.domain).filter { domain in
                    domain.interfaces.contains { $0.mac.map { work.unknownTapMACs.contains($0.libvirtTapAddress) } ?? false }
                }.map(\.name))
            repair(work.guests, connection: connection)
        } else {
            repair(work.guests, connection: connection)
        }
        router.learn(options.store.peek() ?? .empty)
        return true
    }

    private func repair(_ guests: Set<String>, connection: LibvirtConnection) {
        for name in guests.sorted() {
            let guest: RunningGuest
            do {
                guard let read = try connection.runningGuests(named: [name]).first else { continue }
                guest = read
            } catch {
                disconnected(error.description)
                return
            }
            guard let domain = guest.domain else {
                // Stopped meanwhile: its hook cleans up. Anything else (bad metadata) is a failure.
                if guest.problems.allSatisfy({ $0.cause == "not running" || $0.cause.hasPrefix("no such guest") }) {
                    logger.debug("\(name): not running")
                } else {
                    failed(guest.problems.map(\.description), guest: name)
                }
                continue
            }
            router.remember(domain)
            do {
                let repair = try wiring.repair(domain)
                switch repair.status {
                case .repaired:
                    reportedFailures[name] = nil
                    repaired(repair.lines)
                case .failed: failed(repair.problems.map(\.description), guest: name)
                case .skipped(let why): logger.debug("\(name): left alone: \(why)")
                case .unchanged:
                    reportedFailures[name] = nil
                    logger.debug("\(name): as its policies say")
                }
            } catch {
                failed(["guest '\(name.escapedForDisplay)': \(error)"], guest: name)
            }
        }
    }

    /// Every running guest, as `vlanwire reconcile` does: also rebuilds the state and forgets
    /// guests that stopped while nobody watched.
    private func reconcileAll(_ running: [RunningGuest]) {
        let unreadable = running.filter { $0.domain == nil }.map { GuestReconcile(guest: $0.name, status: .failed, problems: $0.problems) }
        do {
            let summary = try wiring.reconcile(
                running.compactMap(\.domain), everyRunningGuest: options.guests == nil,
                unreadable: unreadable, leavingStartingGuests: true)
            for guest in summary.guests {
                switch guest.status {
                case .applied: repaired(["reconciled guest '\(guest.guest.escapedForDisplay)': " + guest.actions.joined(separator: "; ")])
                case .failed: failed(guest.problems.map(\.description), guest: guest.guest)
                case .unchanged, .planned: reportedFailures[guest.guest] = nil
                }
            }
            for name in summary.forgotten { logger.info("forgot guest '\(name.escapedForDisplay)': not running any more") }
            logger.info("reconciled \(summary.guests.count) running guest(s)")
        } catch {
            failed(["reconcile: \(error)"])
        }
    }

    private func repaired(_ lines: [String]) { report(lines, level: .notice, count: \.repairs, last: \.lastRepair) }
    private func failed(_ lines: [String], guest: String? = nil) {
        if let guest {
            guard reportedFailures[guest] != lines else { return logger.debug("\(guest): fails as reported before") }
            reportedFailures[guest] = lines
        }
        report(lines, level: .error, count: \.failures, last: \.lastFailure)
    }

    /// Logs each line and counts it in watch.json, whose last event it becomes.
    private func report(
        _ lines: [String], level: Logger.Level, count: WritableKeyPath<WatchStatus, Int>,
        last: WritableKeyPath<WatchStatus, WatchStatus.Event?>
    ) {
        for line in lines { logger.log(level: level, "\(line)") }
        guard let line = lines.last else { return }
        status[keyPath: count] += lines.count
        status[keyPath: last] = WatchStatus.Event(at: WatchStatus.now(), line: line)
        writeStatus()
    }

    private func writeStatus() {
        do { try options.store.writeWatchStatus(status) } catch {
            logger.warning("could not write \(options.store.directory)/watch.json: \(error)")
        }
    }
}

/// What libvirt's event thread hands the watch loop: written under a lock, and an eventfd wakes poll.
private final class Inbox: Sendable {
    enum Message: Sendable {
        case event(DomainEvent)
        case closed(String)
    }

    let fileDescriptor: Int32
    private let messages = Mutex<[Message]>([])

    init() throws {
        fileDescriptor = cwatch_eventfd()
        guard fileDescriptor >= 0 else { throw Watcher.Failure(description: "eventfd: \(String(cString: strerror(errno)))") }
    }

    deinit { close(fileDescriptor) }

    func put(_ message: Message) {
        messages.withLock { $0.append(message) }
        var one: UInt64 = 1
        _ = write(fileDescriptor, &one, 8)
    }

    func take() -> [Message] {
        var count: UInt64 = 0
        _ = read(fileDescriptor, &count, 8)
        return messages.withLock { taken in
            defer { taken = [] }
            return taken
        }
    }
}

/// SIGTERM, SIGINT and SIGHUP, blocked for normal delivery and read from a signalfd instead.
private struct SignalDescriptor {
    let fileDescriptor: Int32

    init() throws {
        fileDescriptor = cwatch_signalfd()
        guard fileDescriptor >= 0 else { throw Watcher.Failure(description: "signalfd: \(String(cString: strerror(errno)))") }
    }

    /// The next pending signal's number, or nil.
    func take() -> Int32? {
        let number = cwatch_read_signal(fileDescriptor)
        return number > 0 ? number : nil
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
