import ArgumentParser
import Logging
import VLANWireHost
import VLANWireWatch

#if canImport(Glibc)
    import Glibc
#endif

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Keep running guests' NICs as their policies say: hot-plug, drift, live policy changes.",
        discussion: """
            libvirt calls vlanwire's hook only when a guest starts and stops. watch covers the rest, \
            as a long-running service (vlanwire-watch.service runs it): a NIC hot-plugged with \
            `virsh attach-interface --live`, a policy changed with `virsh metadata --live`, a port \
            VLAN removed by hand, a VLAN leg or access bridge deleted or recreated (ifreload, \
            networkd), a tap moved to another bridge. It follows libvirt's domain events and the \
            kernel's link announcements, waits for a burst of changes to end, then re-reads each \
            guest concerned from libvirt and re-applies its policies under the hook's lock. A guest \
            whose hook is starting or stopping it is left to the hook; nothing vlanwire did not \
            create is deleted.

            At start, and after every reconnect to libvirtd (restarted: watch retries with backoff), \
            every running guest is reconciled, as `vlanwire reconcile` does. Each repair is one log \
            line: guest, MAC, tap, what had drifted, what was done. `vlanwire status` and \
            `vlanwire doctor` show whether watch runs and its last repair.

            Signals: SIGTERM or SIGINT ends it after the current repair (exit 0); SIGHUP reloads \
            the config.

            EXIT STATUS: 0 after SIGTERM/SIGINT; 1 when it cannot start (no netlink, bad config, \
            state directory refused).

              vlanwire watch
              vlanwire watch --connect qemu:///system --json
            """
    )

    @Option(
        name: .customLong("guest"),
        help: ArgumentHelp(
            "Watch only this guest (repeat for more); default: every guest.", valueName: "name"))
    var guests: [String] = []

    @OptionGroup var connection: ConnectOptions
    @OptionGroup var config: ConfigOptions
    @OptionGroup var namespace: NamespaceOption

    @Flag(help: "Log one JSON object per line (time, level, message) instead of text.")
    var json = false

    @Option(help: ArgumentHelp("How long to wait after the first change of a burst for the rest of it.", valueName: "ms"))
    var coalesceMilliseconds = 50

    func run() throws {
        let level: Logger.Level = getenv("VLANWIRE_LOG").map { String(cString: $0) } == "debug" ? .debug : .info
        let json = json
        let logger = Logger(label: "vlanwire.watch") { _ in WatchLogHandler(level: level, json: json) }
        let path = config.path
        let options = Watcher.Options(
            uri: connection.uri, guests: guests.isEmpty ? nil : Set(guests), namespace: try namespace.namespace(),
            store: StateStore.forNamespace(namespace.netns),
            loadConfig: { try loadConfig(path: path) }, coalescing: .milliseconds(coalesceMilliseconds))
        do {
            try Watcher(options: options, logger: logger).run()
        } catch let error as CLIFailure {
            throw error
        } catch {
            throw CLIFailure("watch: \(error)")
        }
    }
}
