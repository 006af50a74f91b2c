import ArgumentParser
import Logging
import VLANWire
import VLANWireHost
import VLANWireLibvirt
import VLANWireReports
import VLANWireTemplates

struct SetPortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-port",
        abstract: "Set a guest NIC's VLAN port policy in the guest's vlanwire metadata.",
        discussion: """
            Writes the guest's persistent definition through libvirt (virDomainSetMetadata), keeping \
            the other NICs' entries; the hook applies it at the guest's next start. With --live on a \
            running guest, the live definition's metadata is changed too, and the guest's ports are \
            re-applied at once (as `vlanwire reconcile GUEST` does): the tap's bridge and VLANs. If \
            that fails, the metadata stays written, the kernel is left as it was, and the exit \
            status is 1 with one line per problem.

            Everything is checked before anything is written: the VLAN ids, the MAC's format, and that \
            the NIC with that MAC is one vlanwire wires. A MAC the guest has no NIC for is a pending \
            policy, for a NIC to be hot-plugged (`vlanwire watch` wires it then). A refusal is one line \
            naming the guest, the MAC and the cause.

            EXIT STATUS: 0; 1 when refused (nothing written) or when --live could not re-wire the running guest.

              vlanwire set-port web1 --mac 52:54:00:00:00:01 --access 5
              vlanwire set-port router1 --mac 52:54:00:00:00:02 --trunk 1,5,10-20 --native 1 --live
              vlanwire set-port router2 --mac 52:54:00:00:00:03 --trunk 1,10 --native-tagged 1
              vlanwire set-port web1 --mac 52:54:00:00:00:01 --clear
            """
    )

    @Argument(help: ArgumentHelp("The guest's name or UUID.", valueName: "guest"))
    var guest: String

    @Option(help: ArgumentHelp("The NIC's MAC address.", valueName: "mac"))
    var mac: String

    @OptionGroup var port: PolicyOptions

    @Flag(help: "Remove the NIC's entry (its policy then comes from its bridge or network).")
    var clear = false

    @Flag(help: "Also change the running guest's live definition, and re-apply its ports now.")
    var live = false

    @OptionGroup var connection: ConnectOptions
    @OptionGroup var config: ConfigOptions
    @OptionGroup var namespace: NamespaceOption

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard port.count + (clear ? 1 : 0) == 1 else {
            throw ValidationError("give exactly one of --access, --trunk and --clear")
        }
    }

    /// The MAC and the request, or a refusal naming the guest, the MAC and the bad value.
    func parsed() throws(Refusal) -> (MACAddress, PortRequest) {
        let macAddress: MACAddress
        do { macAddress = try MACAddress(parsing: mac) } catch {
            throw Refusal(Problem(guest: guest, nic: mac, cause: error.description))
        }
        do {
            return (macAddress, try port.policy().map(PortRequest.set) ?? .clear)
        } catch {
            throw Refusal(
                Problem(
                    guest: guest, mac: macAddress, cause: error.description,
                    fix: error.subject == .portPolicy
                        ? "--access VID, or --trunk SET with --native VID or --native-tagged VID (a VLAN of SET)"
                        : "VLAN ids are 1...4094, sets like 1,5,10-20"))
        }
    }

    func run() throws {
        let (macAddress, request) = try parsed()
        let templates: XMLTemplates
        do { templates = try XMLTemplates() } catch { throw CLIFailure(error.description) }
        // With --live, the config and namespace are checked before anything is written.
        let wiring =
            live
            ? Wiring(
                namespace: try namespace.namespace(), store: StateStore.forNamespace(namespace.netns),
                config: try config.load(), logger: Logger.forCommand("set-port")) : nil
        let libvirt = try connection.connect()
        var change = try libvirt.setPort(guest: guest, mac: macAddress, request: request, live: live, templates: templates)
        if let wiring, change.running {
            let running: [RunningGuest]
            do { running = try libvirt.runningGuests(named: [change.guest]) } catch {
                throw CLIFailure("the metadata was written, but the live definition could not be read to re-apply it: \(error)")
            }
            let summary = try ReconcileCommand.reconcile(running, wiring: wiring, everyRunningGuest: false, dryRun: false)
            change.reapplied = summary.guests.first
        }
        print(json ? JSON.encode(change) : change.description)
        if let reapplied = change.reapplied, reapplied.status == .failed {
            for problem in reapplied.problems { printError(problem.description) }
            throw ExitCode(1)
        }
    }
}
