import ArgumentParser
import Logging
import VLANWireLibvirt

/// `--connect URI`, as virsh takes it (`-c` too).
struct ConnectOptions: ParsableArguments {
    @Option(
        name: [.customShort("c"), .customLong("connect")],
        help: ArgumentHelp(
            "libvirt URI.", discussion: "Default: $LIBVIRT_DEFAULT_URI, then qemu:///system.", valueName: "uri"))
    var uri: String?

    /// Opens the connection; libvirt's failure (not installed, libvirtd not running, no
    /// permission) becomes one line and exit status 1.
    func connect() throws -> LibvirtConnection {
        do { return try LibvirtConnection(uri: uri, logger: Logger(label: "vlanwire.libvirt")) } catch {
            throw CLIFailure(error.description)
        }
    }
}
