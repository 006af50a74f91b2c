import ArgumentParser
import VLANWire
import VLANWireTemplates

struct InterfaceXMLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interface-xml",
        abstract: "Print an <interface> and its vlanwire metadata, for virsh attach-device or virt-install.",
        discussion: """
            The <interface> goes into the domain's <devices> (virsh attach-device GUEST iface.xml --config); \
            the <vlans> element is the guest's vlanwire metadata (libvirt adds the namespace: pass it \
            without one):

              virsh metadata GUEST --uri urn:vlanwire:1 --key vw --config --set "$(vlanwire interface-xml ... --metadata-only)"

            Without --mac a MAC is not written and libvirt picks one; the metadata needs the MAC, so give it.

            EXIT STATUS: 0; 1 on a bad VLAN, MAC or bridge name; 2 on a usage error.
            """
    )

    @Option(help: ArgumentHelp("The trunk bridge the NIC attaches to.", valueName: "bridge"))
    var bridge: String

    @OptionGroup var port: PolicyOptions

    @Option(help: ArgumentHelp("The NIC's MAC address.", valueName: "mac"))
    var mac: String?

    @Option(help: ArgumentHelp("NIC model.", valueName: "model"))
    var model: String = "virtio"

    @Flag(help: "Print only the metadata element.")
    var metadataOnly = false

    @Option(help: ArgumentHelp("Directory of templates overriding the built-in ones.", valueName: "dir"))
    var templates: String?

    func validate() throws {
        guard port.count == 1 else { throw ValidationError("give exactly one of --access and --trunk") }
    }

    func parsedValues() throws(ValueError) -> (LinkName, MACAddress?, PortPolicy) {
        let bridgeName = try LinkName(bridge)
        let macAddress = try mac.map { text throws(ValueError) in try MACAddress(parsing: text) }
        // validate() saw exactly one of --access and --trunk.
        return (bridgeName, macAddress, try port.policy()!)
    }

    func run() throws {
        let (bridgeName, macAddress, policy): (LinkName, MACAddress?, PortPolicy)
        do { (bridgeName, macAddress, policy) = try parsedValues() } catch { throw ValidationError(error.description) }
        if macAddress == nil, metadataOnly { throw ValidationError("--metadata-only needs --mac") }
        let xml: XMLTemplates
        do { xml = try XMLTemplates(overrideDirectory: templates) } catch { throw CLIFailure(error.description) }
        if !metadataOnly { print(xml.interface(bridge: bridgeName, mac: macAddress, model: model), terminator: "") }
        if let macAddress { print(xml.metadata([(macAddress, policy)]), terminator: "") }
    }
}

struct NetworksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "networks",
        abstract: "Write libvirt <network> definitions for the config's uplinks.",
        discussion: """
            One network per [[network]] in the config (over its uplink's trunk bridge, one portgroup per \
            policy), and one per VLAN in a classic uplink's access-networks (bridge = that VLAN's access \
            bridge). `networks print` writes them to stdout (no libvirt needed); `networks define` and \
            `networks undefine` put them into libvirt, or take them out.

            EXIT STATUS: that of the subcommand (print, define, undefine).
            """,
        subcommands: [NetworksPrintCommand.self, NetworksDefineCommand.self, NetworksUndefineCommand.self]
    )
}
