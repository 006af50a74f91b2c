import ArgumentParser
import VLANWire
import VLANWireLibvirt
import VLANWireReports

/// `vlanwire export-native`: the way from vlanwire's policies to libvirt's own `<vlan>` (libvirt >= 11.0).
struct ExportNativeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-native",
        abstract: "Show a guest's vlanwire policies as libvirt's own <vlan>, where libvirt >= 11.0 can express them exactly.",
        discussion: """
            libvirt 11.0 and later apply <vlan> to a tap on a Linux bridge themselves. For each NIC of \
            the guest's persistent definition this prints the <vlan> element that gives it the same \
            port VLANs, or why it stays with vlanwire: a classic layout (access bridges and VLAN legs), \
            a bridge without vlan_filtering (libvirt would write port VLANs that filter nothing), a \
            native-tagged trunk (libvirt ignores nativeMode='tagged' there), a network NIC, no policy. \
            It says what libvirt will not do that vlanwire did (the uplink's VLANs). Changes nothing: \
            put each <vlan> in its <interface> with virsh edit, then drop vlanwire's policy with \
            `vlanwire set-port GUEST --mac MAC --clear`.

              vlanwire export-native router1
              vlanwire export-native --xml router1.xml --json

            EXIT STATUS: 0; 1 when the guest cannot be read.
            """
    )

    @Argument(help: ArgumentHelp("The guest's name (libvirt); optional with --xml.", valueName: "guest"))
    var guest: String?

    @Option(name: .customLong("xml"), help: ArgumentHelp("The guest's domain XML instead of libvirt's.", valueName: "file"))
    var domainFile: String?

    @OptionGroup var namespace: NamespaceOption
    @OptionGroup var config: ConfigOptions
    @OptionGroup var connection: ConnectOptions

    @Option(help: ArgumentHelp("Read the kernel's state from this JSON (`vlanwire status --json`) instead of netlink.", valueName: "file"))
    var observed: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard guest != nil || domainFile != nil else { throw ValidationError("give a GUEST (from libvirt) or --xml FILE") }
    }

    func run() throws {
        let export = try output()
        print(json ? JSON.encode(export) + "\n" : export.text, terminator: "")
    }

    func output() throws -> NativeExport {
        let domain = try DiagnosisInputs.guest(guest, file: domainFile, connection: connection, form: .inactive)
        let observedState = try DiagnosisInputs.observed(file: observed, namespace: namespace)
        return NativeExport.export(domain, topology: Topology.resolve(config: try config.load(), observed: observedState), observed: observedState)
    }
}
