package import VLANWire

/// A running guest's NICs as libvirt defines them, next to what the kernel has: the libvirt half of
/// `vlanwire status`. Pure: (live domain XML, topology, kernel snapshot) -> per-NIC comparison.
package struct GuestStatus: Codable, Equatable, Sendable {
    package var name: String
    package var uuid: String?
    package var nics: [NICStatus]
    /// Set when the guest's live XML could not be read (libvirt failed, or vlanwire's reader refused it).
    package var error: String?

    package init(name: String, uuid: String? = nil, nics: [NICStatus] = [], error: String? = nil) {
        self.name = name
        self.uuid = uuid
        self.nics = nics
        self.error = error
    }

    package var mismatches: [Mismatch] { nics.flatMap(\.mismatches) }
}

/// One guest NIC: libvirt's side (MAC, source, policy and where it came from), the kernel's side
/// (the tap, its bridge, its port VLANs), and what differs.
package struct NICStatus: Codable, Equatable, Sendable {
    @NullWhenAbsent package var mac: MACAddress?
    /// libvirt's interface type (`bridge`, `network`, `direct`, ...).
    package var type: String
    /// What libvirt's XML attaches it to: `bridge br0`, `network lan portgroup office`, `dev eth0`.
    package var source: String
    /// Whether vlanwire wires this NIC (rule 1 of the README's "How a NIC gets its VLANs" leaves some alone).
    package var managed: Bool
    /// The port policy; nil for unmanaged NICs and for NICs nothing gives a policy (kernel default).
    @NullWhenAbsent package var policy: PortPolicy?
    /// Where the policy came from (`vlanwire metadata`, `access bridge br0v5`, `kernel default`, ...).
    @NullWhenAbsent package var policySource: String?
    /// Why vlanwire leaves the NIC alone, or why its policy is refused.
    @NullWhenAbsent package var reason: String?
    /// The bridge the tap belongs in.
    @NullWhenAbsent package var bridge: String?
    /// The tap, when found (by `<target dev>` or by MAC).
    @NullWhenAbsent package var tap: String?
    @NullWhenAbsent package var tapFoundBy: TapMatch?
    /// The tap's bridge as the kernel has it (nil: in no bridge, or no tap).
    @NullWhenAbsent package var kernelBridge: String?
    /// The tap's port VLANs as the kernel has them (nil when the bridge does not filter VLANs).
    @NullWhenAbsent package var kernelVLANs: PortVLANs?
    /// The port VLANs the policy asks for (vlan-aware uplinks with a policy only).
    @NullWhenAbsent package var expectedVLANs: PortVLANs?
    package var mismatches: [Mismatch]

    package init(
        mac: MACAddress?, type: String, source: String, managed: Bool, policy: PortPolicy? = nil,
        policySource: String? = nil, reason: String? = nil, bridge: String? = nil, tap: String? = nil,
        tapFoundBy: TapMatch? = nil, kernelBridge: String? = nil, kernelVLANs: PortVLANs? = nil,
        expectedVLANs: PortVLANs? = nil, mismatches: [Mismatch] = []
    ) {
        self.mac = mac
        self.type = type
        self.source = source
        self.managed = managed
        self.policy = policy
        self.policySource = policySource
        self.reason = reason
        self.bridge = bridge
        self.tap = tap
        self.tapFoundBy = tapFoundBy
        self.kernelBridge = kernelBridge
        self.kernelVLANs = kernelVLANs
        self.expectedVLANs = expectedVLANs
        self.mismatches = mismatches
    }

    enum CodingKeys: String, CodingKey {
        case mac, type, source, managed, policy, policySource, reason, bridge, tap, tapFoundBy, kernelBridge,
            kernelVLANs, expectedVLANs, mismatches
    }
}

extension GuestStatus {
    /// Compares each NIC of `domain` (live XML) with the kernel (`NICAudit.audit`: the policy is
    /// resolved as the hook resolves it, one NIC at a time so that one refused NIC does not hide the others).
    package static func compare(_ domain: DomainDescription, topology: Topology, observed: ObservedState) -> GuestStatus {
        let nics = NICAudit.audit(domain, topology: topology, observed: observed).map { nic -> NICStatus in
            guard let resolved = nic.resolved else {
                var status = NICStatus(interface: nic.interface, managed: true)
                status.reason = nic.refusal
                status.located(nic.audit.tap)
                status.mismatches = nic.mismatches
                return status
            }
            return NICStatus(resolved, audit: nic.audit)
        }
        return GuestStatus(name: domain.name, uuid: domain.uuid, nics: nics)
    }
}

extension NICStatus {
    init(interface: DomainInterface, managed: Bool) {
        var source = interface.sourceBridge.map { "bridge \($0)" } ?? interface.sourceDevice.map { "dev \($0)" } ?? "-"
        if let network = interface.sourceNetwork {
            source = "network \(network)" + (interface.portgroup.map { " portgroup \($0)" } ?? "")
        }
        self.init(mac: interface.mac, type: interface.type, source: source.escapedForDisplay, managed: managed)
    }

    /// One resolved NIC against the kernel (the `NICAudit`, in status's words).
    package static func compare(_ nic: ResolvedNIC, observed: ObservedState) -> NICStatus {
        NICStatus(nic, audit: NICAudit.audit(nic, observed: observed))
    }

    init(_ nic: ResolvedNIC, audit: NICAudit) {
        self.init(interface: nic.interface, managed: nic.wiring != nil)
        located(audit.tap)
        mismatches = audit.drifts.map(Mismatch.init)
        guard let wiring = nic.wiring else {
            reason = nic.unmanagedReason
            return
        }
        policy = wiring.policy
        policySource = wiring.source.description
        bridge = wiring.bridge.rawValue
        if wiring.uplink.mode == .vlanAware, let policy = wiring.policy { expectedVLANs = PortVLANs(policy: policy) }
    }

    /// Fills in where the tap is (`tap`, `tapFoundBy`, its bridge and port VLANs).
    mutating func located(_ tap: NICAudit.Tap?) {
        guard let tap else { return }
        self.tap = tap.link.name
        tapFoundBy = tap.foundBy
        kernelBridge = tap.link.master
        kernelVLANs = tap.link.port?.vlans
    }
}

/// libvirt's part of `vlanwire status`: whether it was asked, and what it answered.
package struct LibvirtView: Codable, Equatable, Sendable {
    package enum State: String, Codable, Equatable, Sendable {
        case connected
        /// The connection or the guest listing failed: the kernel's view only.
        case unreachable
        /// `--no-libvirt`.
        case notAsked = "not-asked"
    }

    package var state: State
    package var uri: String?
    package var error: String?
    /// Running guests, in libvirt's order (empty unless connected).
    package var guests: [GuestStatus]

    package init(state: State, uri: String? = nil, error: String? = nil, guests: [GuestStatus] = []) {
        self.state = state
        self.uri = uri
        self.error = error
        self.guests = guests
    }

    package var mismatches: [Mismatch] { guests.flatMap(\.mismatches) }

    /// The guests table and a one-line verdict, or why there is none.
    package var text: String {
        switch state {
        case .notAsked:
            return "libvirt: not asked (--no-libvirt); the kernel's view only.\n"
        case .unreachable:
            return "libvirt: unreachable at \(uri ?? "?")\(error.map { " (\($0.withoutControlCharacters))" } ?? ""); the kernel's view only.\n"
        case .connected:
            break
        }
        let uriText = uri ?? "libvirt"
        guard !guests.isEmpty else { return "Guests (\(uriText)): none running.\n" }
        var table = TextTable(["GUEST", "MAC", "TAP", "BRIDGE", "POLICY", "FROM", "KERNEL", "MISMATCH"])
        for guest in guests {
            let name = guest.name.escapedForDisplay
            if let error = guest.error {
                table.append([name, "-", "-", "-", "-", "-", "-", "cannot read: \(error.withoutControlCharacters)"])
                continue
            }
            if guest.nics.isEmpty { table.append([name, "-", "-", "-", "-", "-", "-", "no NICs"]) }
            for nic in guest.nics {
                var kernel = "no tap"
                if nic.tap != nil {
                    kernel = nic.kernelBridge ?? "no bridge"
                    if let vlans = nic.kernelVLANs { kernel += vlans.members.isEmpty ? "; no VLANs" : "; " + vlans.description }
                }
                let policy: String
                let from: String
                if nic.managed {
                    policy = nic.policy?.description ?? (nic.policySource == nil ? "refused" : "-")
                    from = nic.policySource ?? "-"
                } else {
                    policy = "unmanaged"
                    from = nic.reason ?? "-"
                }
                let mismatch =
                    nic.mismatches.isEmpty
                    ? (nic.managed ? "ok" : "-")
                    : nic.mismatches.map(\.message).joined(separator: "; ")
                table.append([
                    name, nic.mac?.description ?? "-", nic.tap ?? "-", nic.bridge ?? nic.source, policy, from,
                    kernel, mismatch,
                ])
            }
        }
        var out = "Guests (\(uriText), \(guests.count) running):\n" + table.render() + "\n\n"
        let all = mismatches
        let unreadable = guests.filter { $0.error != nil }.count
        if all.isEmpty {
            out +=
                unreadable == 0
                ? "Every guest NIC is as its definition and policy say.\n"
                : "\(unreadable) guest\(unreadable == 1 ? "" : "s") could not be read.\n"
        } else {
            let fixable = all.filter(\.reconcileFixes).count
            out += "\(all.count) mismatch\(all.count == 1 ? "" : "es")"
            if fixable > 0 {
                out +=
                    "; `vlanwire reconcile` fixes \(fixable == all.count ? (all.count == 1 ? "it" : "them") : "\(fixable)")"
                    + " (`vlanwire reconcile --plan` shows how)"
            }
            out += ".\n"
        }
        return out
    }
}

/// `vlanwire status --json`: the kernel's observed state — the very object `vlanwire plan
/// --observed FILE` reads, whose decoder ignores the rest — with two more keys, `libvirt`
/// (a `LibvirtView`: state, uri, error, guests) and `watch` (a `WatchStatus`, null when watch never
/// ran with this state directory).
package struct StatusDocument: Codable, Equatable, Sendable {
    package var kernel: ObservedState
    package var libvirt: LibvirtView
    package var watch: WatchStatus?

    package init(kernel: ObservedState, libvirt: LibvirtView, watch: WatchStatus? = nil) {
        self.kernel = kernel
        self.libvirt = libvirt
        self.watch = watch
    }

    enum CodingKeys: String, CodingKey { case libvirt, watch }

    package init(from decoder: any Decoder) throws {
        kernel = try ObservedState(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        libvirt = try container.decode(LibvirtView.self, forKey: .libvirt)
        watch = try container.decodeIfPresent(WatchStatus.self, forKey: .watch)
    }

    package func encode(to encoder: any Encoder) throws {
        try kernel.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(libvirt, forKey: .libvirt)
        try container.encode(watch, forKey: .watch)
    }
}
