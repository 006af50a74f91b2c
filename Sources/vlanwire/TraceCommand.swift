import ArgumentParser
import VLANWire
import VLANWireLibvirt
import VLANWireReports

/// `vlanwire trace`: a guest NIC's frames hop by hop, with the capture command for each hop.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Show the path of a guest NIC's frames, hop by hop, both ways, and where to capture them.",
        discussion: """
            For each NIC (or the one --mac names) and each VLAN of its policy (or --vlan N): the hops \
            from the uplink through VLAN legs and bridges to the tap and back, whether the frame is \
            tagged at each hop and with which VLAN, each link's state, where the frame is dropped and \
            why, and the tcpdump command that shows it at each hop. Changes nothing.

            A running guest is read from libvirt; --xml FILE traces a guest that is not running (GUEST \
            may then be left out): the path is the one vlanwire wires at start.

              vlanwire trace router1 --vlan 5
              vlanwire trace --xml app1.xml --json
              vlanwire trace router1 --format dot | dot -Tsvg > router1.svg   (drops in red)

            EXIT STATUS: 0; 1 when the guest or the NIC cannot be found or read.
            """
    )

    @Argument(help: ArgumentHelp("The guest's name (libvirt); optional with --xml.", valueName: "guest"))
    var guest: String?

    @Option(name: .customLong("xml"), help: ArgumentHelp("The guest's domain XML instead of libvirt's.", valueName: "file"))
    var domainFile: String?

    @Option(help: ArgumentHelp("Only the NIC with this MAC.", valueName: "mac"), transform: parseMAC)
    var mac: MACAddress?

    @Option(help: ArgumentHelp("Only this VLAN (default: the VLANs of each NIC's policy).", valueName: "vid"), transform: parseVLAN)
    var vlan: VLANID?

    @OptionGroup var namespace: NamespaceOption
    @OptionGroup var config: ConfigOptions
    @OptionGroup var connection: ConnectOptions

    @Option(help: ArgumentHelp("Read the kernel's state from this JSON (`vlanwire status --json`) instead of netlink.", valueName: "file"))
    var observed: String?

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: OutputFormat.help)
    var format: OutputFormat?

    func validate() throws {
        guard guest != nil || domainFile != nil else { throw ValidationError("give a GUEST (from libvirt) or --xml FILE") }
    }

    func run() throws {
        print(try rendered(), terminator: "")
    }

    /// What `run` prints, in the chosen format.
    func rendered() throws -> String {
        let format = try OutputFormat.chosen(format, json: json)
        let trace = try output()
        switch format {
        case .json: return JSON.encode(trace) + "\n"
        case .dot: return trace.dot
        case .text: return trace.text
        }
    }

    func output() throws -> GuestTrace {
        let domain = try readGuest()
        let observedState = try DiagnosisInputs.observed(file: observed, namespace: namespace)
        let topology = Topology.resolve(config: try config.load(), observed: observedState)
        return try FrameTracer(observed: observedState, topology: topology, commandPrefix: DiagnosisInputs.commandPrefix(namespace))
            .trace(domain, mac: mac, vlan: vlan)
    }

    private func readGuest() throws -> DomainDescription {
        try DiagnosisInputs.guest(guest, file: domainFile, connection: connection)
    }
}

func parseMAC(_ text: String) throws -> MACAddress {
    do { return try MACAddress(parsing: text) } catch { throw ValidationError(error.description) }
}

func parseVLAN(_ text: String) throws -> VLANID {
    do { return try VLANID(parsing: text) } catch { throw ValidationError(error.description) }
}
