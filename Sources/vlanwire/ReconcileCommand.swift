import ArgumentParser
import Logging
import VLANWire
import VLANWireHost
import VLANWireLibvirt
import VLANWireNetlink
import VLANWireReports

struct ReconcileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Re-apply the running guests' port policies, reading their live XML through libvirt.",
        discussion: """
            For every running guest (or the named ones), reads its live definition through libvirt \
            and re-applies each NIC's policy as the hook does when libvirtd reconnects: access \
            bridges and VLAN legs, the tap's bridge, its port VLANs. Each guest is all or nothing; \
            one failing does not stop the others. Use it after a host reboot or a config change, \
            after someone removed links or VLANs by hand, or when `vlanwire status` shows a mismatch.

            It also rebuilds vlanwire's records of the running guests (/run/vlanwire/state.json and guests/): \
            after a reconcile of every running guest without failures, vlanwire again knows which \
            guests use the links it created, and forgets guests that are not running any more.

            --plan prints what would change and changes nothing.

            EXIT STATUS: 0; 1 when a guest failed (one line per problem on stderr) or libvirt cannot be reached.

              vlanwire reconcile
              vlanwire reconcile web1 router1 --plan
              vlanwire reconcile --connect qemu:///system --json
            """
    )

    @Argument(help: ArgumentHelp("Guests (names or UUIDs); default: every running guest.", valueName: "guest"))
    var guests: [String] = []

    @Flag(help: "Print the plans; change nothing.")
    var plan = false

    @OptionGroup var connection: ConnectOptions
    @OptionGroup var config: ConfigOptions
    @OptionGroup var namespace: NamespaceOption

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let libvirt = try connection.connect()
        let running: [RunningGuest]
        do { running = try libvirt.runningGuests(named: guests) } catch { throw CLIFailure(error.description) }
        let wiring = Wiring(
            namespace: try namespace.namespace(), store: StateStore.forNamespace(namespace.netns),
            config: try config.load(), logger: Logger.forCommand("reconcile"))
        let summary = try Self.reconcile(running, wiring: wiring, everyRunningGuest: guests.isEmpty, dryRun: plan)
        print(json ? JSON.encode(summary) : summary.text, terminator: json ? "\n" : "")
        let failures = summary.failureLines
        if !failures.isEmpty {
            for line in failures { printError(line) }
            throw ExitCode(1)
        }
    }

    /// Reconciles (or, `dryRun`, plans) the guests read from libvirt. Shared with `set-port --live`.
    static func reconcile(_ running: [RunningGuest], wiring: Wiring, everyRunningGuest: Bool, dryRun: Bool) throws -> ReconcileSummary {
        let domains = running.compactMap(\.domain)
        let unreadable = running.filter { $0.domain == nil }.map {
            GuestReconcile(guest: $0.name, status: .failed, problems: $0.problems)
        }
        do {
            if dryRun {
                let handle = try NetlinkHandle(namespace: wiring.namespace, logger: wiring.logger)
                let observed = try handle.snapshot()
                return Reconciliation.preview(
                    domains, topology: Topology.resolve(config: wiring.config, observed: observed),
                    observed: observed, state: wiring.store.peek(), mark: wiring.store.mark,
                    everyRunningGuest: everyRunningGuest, unreadable: unreadable)
            }
            return try wiring.reconcile(domains, everyRunningGuest: everyRunningGuest, unreadable: unreadable)
        } catch let error as CLIFailure {
            throw error
        } catch {
            throw CLIFailure("\(error)")
        }
    }
}
