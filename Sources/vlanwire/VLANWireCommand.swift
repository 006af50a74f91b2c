import ArgumentParser
import VLANWire
import VLANWireHost

#if canImport(Glibc)
    import Glibc
#endif

@main
struct VLANWireCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vlanwire",
        abstract: "VLAN access ports and trunks for libvirt guests on plain Linux bridges.",
        discussion: """
            libvirt runs `vlanwire hook` as its qemu hook: on guest start it wires each NIC to the right \
            access bridge or trunk bridge and sets its port VLANs; on stop it cleans up. The other \
            commands are for admins: see what would change (plan), what the kernel has (status), \
            write libvirt XML (networks, interface-xml).

            A NIC's policy comes from the guest's vlanwire metadata (keyed by MAC), its access bridge \
            (br0v5 = VLAN 5), its network portgroup, or its bridge's default in \
            /etc/vlanwire/vlanwire.toml (first match wins). Without a config, vlanwire infers uplinks \
            from the kernel's bridges.

            EXIT STATUS: 0 on success; 1 when vlanwire refuses or something fails (one line per problem on stderr); 2 on a usage error.
            """,
        version: vlanwireVersion,
        subcommands: [
            HookCommand.self, PlanCommand.self, ApplyCommand.self, ReleaseCommand.self, Status.self,
            InterfaceXMLCommand.self, NetworksCommand.self, SetPortCommand.self, InstallHookCommand.self, ReconcileCommand.self, WatchCommand.self,
            DoctorCommand.self, TraceCommand.self, ExportNativeCommand.self,
        ]
    )

    /// Usage errors exit 2 (as most Unix tools do); refusals exit 1.
    static func main() {
        if let hookArguments = HookCommand.fastPathArguments(CommandLine.arguments) {
            Glibc.exit(HookMain.run(libvirtArguments: Array(hookArguments.dropFirst())))
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as Refusal {
            printError(error.description)
            Glibc.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                printError(fullMessage(for: error))
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Writes a line to stderr (one line per problem).
func printError(_ message: String) { HookMain.printError(message) }

/// A runtime failure the CLI reports as one line and exit status 1.
struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct ConfigOptions: ParsableArguments {
    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "vlanwire's config file.",
            discussion: "Default: $VLANWIRE_CONFIG, then /etc/vlanwire/vlanwire.toml; without one, vlanwire infers uplinks from the kernel.",
            valueName: "file"))
    var path: String?

    /// The config, or nil when none exists (inference).
    func load() throws -> HostConfig? { try loadConfig(path: path) }
}

/// `path`, else $VLANWIRE_CONFIG, else the default path; nil when the default does not exist.
func loadConfig(path: String?) throws -> HostConfig? {
    do { return try ConfigFile.load(path: path) } catch { throw CLIFailure(error.description) }
}
