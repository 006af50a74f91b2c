import ArgumentParser
import Foundation
import Logging
import VLANWire
import VLANWireHost
import VLANWireLibvirt
import VLANWireNetlink
import VLANWireReports
import VLANWireWatch

/// `vlanwire status`: bridges, their ports, VLAN legs and port VLANs as the kernel has them;
/// whether `vlanwire watch` keeps them; and, when libvirt answers, every running guest's NICs next
/// to what the kernel has for them, last, so that its verdict ends the output.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show bridges, ports and VLANs as the kernel has them, and running guests' NICs against their policies.",
        discussion: """
            First the kernel: bridges with their ports, VLAN legs and port VLANs. Then, when libvirt \
            answers (--connect, like virsh), each running guest's NICs: MAC, tap (found by its MAC, \
            fe:… for 52:…, or <target dev>), the bridge its tap belongs in, the policy and where it \
            came from (as the hook resolves it), what the kernel has (the tap's bridge and port \
            VLANs), and a MISMATCH column: wrong bridge, VLANs that differ from the policy's, tap \
            missing, a refused policy. `vlanwire reconcile` fixes what it names. With --no-libvirt, \
            or when libvirt is unreachable, the kernel's view only (the output says which). Between \
            the two, whether `vlanwire watch` runs for this state directory: since when, its libvirt \
            connection, its last repair and last failure.

            Reads only; needs no root for the current namespace (entering another one does).
            --json prints the kernel's state (what `vlanwire plan --observed FILE` reads) with a \
            `libvirt` key: {state, uri, error, guests: [{name, uuid, error, nics: [...]}]}, and a \
            `watch` key: null when watch never ran here, else {running, pid, startedAt, uri, libvirt, \
            repairs, lastRepair: {at, line}, failures, lastFailure}.

            --format dot draws it for Graphviz: uplinks, bridges, VLAN legs and taps, each port \
            labelled with the VLANs it carries, running guests joined to their taps by their policy; \
            what is down, drifted or lets iptables see bridged frames in red, with the reason:

              vlanwire status --format dot | dot -Tsvg > host.svg

            EXIT STATUS: 0, mismatches included (they are in the output); 1 when the kernel cannot be read.
            """)

    @OptionGroup var namespace: NamespaceOption

    @Flag(help: "Print JSON: the observed state (the file `vlanwire plan --observed FILE` reads) plus `libvirt` and `watch` keys.")
    var json = false

    @Option(help: OutputFormat.help)
    var format: OutputFormat?

    @Flag(name: .customLong("no-libvirt"), help: "Do not ask libvirt: the kernel's view only.")
    var noLibvirt = false

    @OptionGroup var connection: ConnectOptions
    @OptionGroup var config: ConfigOptions

    func run() throws {
        print(try output(), terminator: "")
    }

    /// What `run` prints.
    func output() throws -> String {
        let handle = try NetlinkHandle(namespace: try namespace.namespace(), logger: Logger(label: "vlanwire.status"))
        let state = try handle.snapshot()
        let libvirt =
            noLibvirt
            ? LibvirtView(state: .notAsked)
            : LibvirtView.gather(
                uri: connection.uri, topology: Topology.resolve(config: try config.load(), observed: state),
                observed: state, logger: Logger(label: "vlanwire.libvirt"))
        let store = StateStore.forNamespace(namespace.netns)
        let watch = store.watchStatus()
        switch try OutputFormat.chosen(format, json: json) {
        case .json: return JSON.encode(StatusDocument(kernel: state, libvirt: libvirt, watch: watch)) + "\n"
        case .dot: return HostGraph.dot(observed: state, libvirt: libvirt)
        case .text: return Self.table(state) + "\n" + WatchStatus.text(watch, stateDirectory: store.directory) + "\n" + libvirt.text
        }
    }

    /// Bridges with their ports and VLAN legs beneath them, then VLAN legs on other links, then
    /// what the kernel lacks and which bridge netfilter sysctls are on.
    static func table(_ state: ObservedState) -> String {
        var rows = TextTable(["LINK", "KIND", "ADMIN", "OPER", "DETAILS"])
        func row(_ link: ObservedLink, indent: String, _ details: String) {
            rows.append([indent + link.name, link.kind ?? "-", link.adminUp ? "up" : "down", link.operState, details])
        }
        let bridges = state.links.filter(\.isBridge).sorted { $0.name < $1.name }
        for bridge in bridges {
            row(bridge, indent: "", bridgeDetails(bridge))
            for port in state.ports(of: bridge.name).sorted(by: { $0.name < $1.name }) {
                var details = "port, \(port.port?.state ?? "unknown")"
                if let vlans = port.port?.vlans { details += "; VLANs: \(vlans)" }
                if let vlan = port.vlan { details += "; VLAN \(vlan.id) leg on \(vlan.parent)" }
                row(port, indent: "  ", details)
            }
            for leg in state.vlanLegs(on: bridge.name).sorted(by: { $0.name < $1.name }) {
                row(leg, indent: "  ", "VLAN \(leg.vlan!.id) leg" + (leg.master.map { ", port of \($0)" } ?? "") + mark(leg))
            }
        }
        let bridgeNames = Set(bridges.map(\.name))
        let otherLegs = state.links.filter { $0.vlan.map { !bridgeNames.contains($0.parent) } ?? false }
        for leg in otherLegs.sorted(by: { $0.name < $1.name }) {
            row(leg, indent: "", "VLAN \(leg.vlan!.id) leg on \(leg.vlan!.parent)" + (leg.master.map { ", port of \($0)" } ?? "") + mark(leg))
        }
        var text = rows.rows.isEmpty ? "No bridges or VLAN legs.\n" : rows.render() + "\n"
        if let missing = state.capabilities?.missingDescription { text += "\nKernel: \(missing).\n" }
        if let sysctls = state.bridgeNetfilter {
            let enabled = sysctls.enabled
            text +=
                enabled.isEmpty
                ? "\nBridge netfilter sysctls: all off.\n"
                : "\nBridge netfilter sysctls on (bridged frames pass through iptables etc.): \(enabled.joined(separator: ", ")).\n"
        }
        return text
    }

    private static func bridgeDetails(_ bridge: ObservedLink) -> String {
        guard let info = bridge.bridge else { return "bridge" + mark(bridge) }
        var parts = [
            info.vlanFiltering ? "vlan-aware" : "not vlan-aware", "stp \(info.stpEnabled ? "on" : "off")",
            "forward_delay \(info.forwardDelay)",
        ]
        let calls = [info.nfCallIPTables, info.nfCallIP6Tables, info.nfCallARPTables].compactMap { $0 }
        if !calls.isEmpty {
            parts.append(calls.allSatisfy { !$0 } ? "nf_call off" : calls.allSatisfy { $0 } ? "nf_call on" : "nf_call mixed")
        }
        return parts.joined(separator: ", ") + mark(bridge)
    }

    private static func mark(_ link: ObservedLink) -> String {
        link.isMarkedByVLANWire ? "; created by vlanwire" : ""
    }
}
