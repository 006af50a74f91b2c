import ArgumentParser
import VLANWire
import VLANWireHost
import VLANWireLibvirt
import VLANWireReports
import VLANWireWatch

/// `vlanwire doctor`: the seed's troubleshooting notes as checks of this host and its guests.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the host's bridges, VLAN legs and guests for what loses frames, and say how to fix it.",
        discussion: """
            Reads the kernel (links, bridges, port VLANs, bridge netfilter sysctls), vlanwire's config \
            and state, and the running guests' domain XML from libvirt (or --xml files), and reports \
            findings: a VLAN leg on an uplink that is a bridge port (it steals the VLAN from the bridge), \
            links down, ports not forwarding, br_netfilter on, a kernel without 802.1Q or VLAN filtering \
            the config needs, trunks a classic bridge cannot enforce, taps in the wrong bridge or with \
            other VLANs than their policy, leftover vlanwire links, MTU bottlenecks, libvirt <vlan> next \
            to vlanwire metadata; and whether `vlanwire watch` runs, hears libvirt, and last failed \
            (not with --observed). Changes nothing.

            libvirt is optional: when it cannot be reached, doctor says so and checks the rest. With \
            --netns, libvirt is asked only when --connect is given (its guests' taps live in the host's \
            namespace).

            EXIT STATUS: 1 when any finding is an error, else 0.

              vlanwire doctor
              vlanwire doctor --netns lab1 --xml guest.xml --json
            """
    )

    @OptionGroup var namespace: NamespaceOption
    @OptionGroup var config: ConfigOptions
    @OptionGroup var connection: ConnectOptions

    @Flag(name: .customLong("no-libvirt"), help: "Do not ask libvirt for the running guests.")
    var noLibvirt = false

    @Option(name: .customLong("xml"), help: ArgumentHelp("A guest's domain XML to check as well (repeatable).", valueName: "file"))
    var domainFiles: [String] = []

    @Option(help: ArgumentHelp("Read the kernel's state from this JSON (`vlanwire status --json`) instead of netlink.", valueName: "file"))
    var observed: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let report = try report()
        print(json ? JSON.encode(report) : report.text, terminator: json ? "\n" : "")
        if report.hasErrors { throw ExitCode(1) }
    }

    /// Reads everything and runs the checks.
    func report() throws -> DoctorReport {
        let observedState = try DiagnosisInputs.observed(file: observed, namespace: namespace)
        let hostConfig = try config.load()
        var (guests, problems) = DiagnosisInputs.domains(files: domainFiles)
        let source: Doctor.GuestSource
        if noLibvirt {
            source = .notAsked(reason: "--no-libvirt")
        } else if namespace.netns != nil, connection.uri == nil {
            source = .notAsked(reason: "--netns without --connect: libvirt's guests live in the host's namespace")
        } else {
            do {
                for guest in try connection.connect().runningGuests() {
                    guests += guest.domain.map { [$0] } ?? []
                    problems += guest.problems
                }
                source = .libvirt
            } catch {
                source = .unreachable(reason: "\(error)")
            }
        }
        let store = StateStore.forNamespace(namespace.netns)
        // A kernel read from a file may be another host's: this host's watch says nothing about it.
        let watch: Doctor.Watch? = observed != nil ? nil : store.watchStatus().map(Doctor.Watch.seen) ?? .neverRan
        let doctor = Doctor(
            observed: observedState, topology: Topology.resolve(config: hostConfig, observed: observedState),
            state: store.peek(), guests: guests, guestSource: source,
            unreadableGuests: problems, commandPrefix: DiagnosisInputs.commandPrefix(namespace), watch: watch)
        return doctor.report()
    }
}
