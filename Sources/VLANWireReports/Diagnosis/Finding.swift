import VLANWire

/// One thing `vlanwire doctor` noticed: how bad it is, which check saw it, the links and guest
/// involved, what is wrong, and how to fix it.
package struct Finding: Codable, Equatable, Sendable {
    package enum Severity: String, Codable, Sendable, Comparable, CaseIterable {
        /// Worth knowing; nothing is broken.
        case info
        /// Something may break or surprise (a firewall may drop frames, a leftover link).
        case warning
        /// Frames are lost or a guest gets VLANs its policy does not give it. `doctor` exits 1.
        case error

        private var rank: Int { Self.allCases.firstIndex(of: self)! }
        package static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    /// The checks, with stable names for scripts (`--json`'s `check`).
    package enum Check: String, Codable, Sendable, CaseIterable {
        /// A VLAN leg on an uplink that is a bridge port takes that VLAN from the bridge (the seed's trouble).
        case vlanLegOnBridgePort = "vlan-leg-on-bridge-port"
        /// Two VLAN legs take the same VLAN from one wire.
        case duplicateVLANLeg = "duplicate-vlan-leg"
        /// A link on a guest's path is down.
        case linkDown = "link-down"
        /// A bridge port on a guest's path does not forward (STP state).
        case portNotForwarding = "port-not-forwarding"
        /// br_netfilter hands bridged frames to iptables/ip6tables/arptables.
        case bridgeNetfilter = "bridge-netfilter"
        /// The kernel lacks 802.1Q or bridge VLAN filtering that the config needs.
        case kernelCapability = "kernel-capability"
        /// A configured uplink or its bridge is missing, or not wired as the config says, or the
        /// uplink port does not carry a VLAN a guest's policy uses.
        case uplinkWiring = "uplink-wiring"
        /// An access bridge with guest ports and no VLAN leg feeding it.
        case accessBridgeWithoutLeg = "access-bridge-without-leg"
        /// A trunk with fewer VLANs than the uplink carries, on a bridge that cannot filter.
        case trunkOnClassicBridge = "trunk-on-classic-bridge"
        /// vlanwire would refuse this guest NIC (bad policy for this host).
        case nicRefused = "nic-refused"
        /// A guest's domain XML or vlanwire metadata cannot be read.
        case guestUnreadable = "guest-unreadable"
        /// A guest's tap is not in the bridge its policy puts it in.
        case tapBridgeDrift = "tap-bridge-drift"
        /// A guest's tap has other VLANs than its policy gives it.
        case portVLANDrift = "port-vlan-drift"
        /// A guest NIC has no tap (guest not running), so its wiring cannot be checked.
        case tapMissing = "tap-missing"
        /// A NIC's `<target dev>` is a link with another MAC: not this NIC's tap.
        case tapMAC = "tap-mac"
        /// A link vlanwire created that no guest uses.
        case unusedLink = "unused-vlanwire-link"
        /// A link inside a guest's path has a smaller MTU than both ends.
        case mtuBottleneck = "mtu-bottleneck"
        /// libvirt's own `<vlan>` and vlanwire metadata on one NIC.
        case libvirtVLANAndMetadata = "libvirt-vlan-and-metadata"
        /// libvirt's own `<vlan>` on a NIC whose Linux bridge has no `vlan_filtering`: libvirt ≥ 11
        /// writes the port VLANs, and the bridge ignores them.
        case libvirtVLANWithoutFiltering = "libvirt-vlan-without-filtering"
        /// Where guests came from, and what could not be checked without them.
        case guests = "guests"
        /// `vlanwire watch`: not running, cut off from libvirt, or its last failure.
        case watch = "watch"
    }

    package var severity: Severity
    package var check: Check
    /// The links involved, most relevant first.
    package var links: [String]
    package var guest: String?
    /// The NIC's MAC (or its label when it has none).
    package var nic: String?
    package var message: String
    /// What to do; commands are exact where vlanwire knows them.
    package var fix: String?

    package init(
        _ severity: Severity, _ check: Check, links: [String] = [], guest: String? = nil, nic: String? = nil,
        message: String, fix: String? = nil
    ) {
        self.severity = severity
        self.check = check
        self.links = links
        self.guest = guest
        self.nic = nic
        self.message = message
        self.fix = fix
    }
}

/// `vlanwire doctor`'s output: the findings, worst first, with counts.
package struct DoctorReport: Codable, Equatable, Sendable {
    package var findings: [Finding]
    package var errors: Int
    package var warnings: Int
    package var infos: Int

    package init(findings: [Finding]) {
        // Stable: within one severity, findings keep the order the checks produced them in.
        self.findings = findings.enumerated().sorted { a, b in
            a.element.severity != b.element.severity ? a.element.severity > b.element.severity : a.offset < b.offset
        }.map(\.element)
        errors = findings.count { $0.severity == .error }
        warnings = findings.count { $0.severity == .warning }
        infos = findings.count { $0.severity == .info }
    }

    package var hasErrors: Bool { errors > 0 }

    /// A table: severity, check, links, and the finding with its fix on the next line.
    package var text: String {
        var out = ""
        if !findings.isEmpty {
            var table = TextTable(["SEVERITY", "CHECK", "LINKS", "FINDING"])
            for finding in findings {
                var message = finding.message
                if let guest = finding.guest {
                    message = "guest \(guest.escapedForDisplay)" + (finding.nic.map { ", NIC \($0.escapedForDisplay)" } ?? "") + ": " + message
                }
                table.append([
                    finding.severity.rawValue, finding.check.rawValue,
                    finding.links.isEmpty ? "-" : finding.links.joined(separator: ","), message.withoutControlCharacters,
                ])
                if let fix = finding.fix { table.append(["", "", "", "fix: " + fix.withoutControlCharacters]) }
            }
            out += table.render() + "\n"
        }
        out +=
            "\(findings.count) finding\(findings.count == 1 ? "" : "s"): \(errors) error\(errors == 1 ? "" : "s"), "
            + "\(warnings) warning\(warnings == 1 ? "" : "s"), \(infos) info\n"
        return out
    }
}
