package import VLANWire
package import VLANWireTemplates

/// What `vlanwire set-port` asks for one guest NIC.
package enum PortRequest: Equatable, Sendable, CustomStringConvertible {
    /// Give the NIC this policy (replacing any it has).
    case set(PortPolicy)
    /// Remove the NIC's entry: its policy then comes from its bridge or network (README, "How a NIC gets its VLANs", rules 3-5).
    case clear

    /// The NIC's metadata policy once the request is applied.
    package var policy: PortPolicy? {
        switch self {
        case .set(let policy): policy
        case .clear: nil
        }
    }

    package var description: String { policy?.description ?? "clear" }
}

/// One NIC's entry in a guest's vlanwire metadata.
package struct PortEntry: Equatable, Sendable {
    package var mac: MACAddress
    package var policy: PortPolicy

    package init(mac: MACAddress, policy: PortPolicy) {
        self.mac = mac
        self.policy = policy
    }
}

/// A change of one NIC's entry in one definition's vlanwire metadata (persistent or live): the
/// entry before and after, and every entry of the element as it must be written — the element is
/// replaced as a whole (libvirt keeps one element per namespace), so the other NICs' entries are
/// carried over unchanged.
package struct PortMetadataEdit: Equatable, Sendable {
    package var guest: String
    package var mac: MACAddress
    /// The NIC's policy in the metadata before (nil: no entry).
    package var previous: PortPolicy?
    /// The NIC's policy in the metadata after (nil: no entry).
    package var requested: PortPolicy?
    /// Every entry after the change, in the order of the guest's NICs, then pending ones by MAC.
    package var entries: [PortEntry]
    /// The guest has no NIC with this MAC yet: the policy waits for one (hot-plug).
    package var pending: Bool

    /// Whether anything is to be written.
    package var changesMetadata: Bool { previous != requested }

    /// The element to give `LibvirtDomain.setMetadata` (unprefixed, as libvirt requires), or nil
    /// when no entry is left and the element is to be removed.
    package func element(templates: XMLTemplates) -> String? {
        entries.isEmpty ? nil : templates.metadata(entries.map { ($0.mac, $0.policy) })
    }
}

extension DomainDescription {
    /// Validates `request` for the NIC with `mac` against this definition, and returns the edit.
    ///
    /// Refused (nothing to write) when a policy is to be set on a NIC vlanwire does not wire: not
    /// `type='bridge'`/`'network'` (direct/macvtap, hostdev, user…), an Open vSwitch (or other
    /// `<virtualport>`) port, or a NIC carrying libvirt's own `<vlan>`. A MAC the guest has no NIC
    /// for is a pending policy, for a NIC to be hot-plugged later. Clearing is always allowed.
    package func portMetadataEdit(mac: MACAddress, request: PortRequest) throws(Refusal) -> PortMetadataEdit {
        func refuse(_ cause: String, fix: String? = nil) -> Refusal {
            Refusal(Problem(guest: name, mac: mac, cause: cause, fix: fix))
        }
        if request != .clear, let interface = interface(mac: mac) {
            guard interface.type == "bridge" || interface.type == "network" else {
                throw refuse(
                    "a type='\(interface.type)' interface is not a Linux bridge port, so vlanwire does not wire it",
                    fix: "use <interface type='bridge'> or type='network'")
            }
            if let virtualPort = interface.virtualPortType {
                throw refuse(
                    "the NIC has <virtualport type='\(virtualPort)'>: its switch applies VLANs itself",
                    fix: "set the VLANs with libvirt's own <vlan> in the interface")
            }
            if interface.libvirtVLAN != nil {
                throw refuse(
                    "the NIC carries libvirt's own <vlan>, which takes precedence over vlanwire's metadata",
                    fix: "remove the <vlan> element from the interface (virsh edit \(name)), then set the port")
            }
        }
        var policies = metadata
        policies[mac] = request.policy
        let nics = interfaces.compactMap(\.mac).reduce(into: [MACAddress]()) { if !$0.contains($1) { $0.append($1) } }
        let order = nics + policies.keys.filter { !nics.contains($0) }.sorted()
        let entries = order.compactMap { nic in policies[nic].map { PortEntry(mac: nic, policy: $0) } }
        return PortMetadataEdit(
            guest: name, mac: mac, previous: metadata[mac], requested: request.policy, entries: entries,
            pending: interface(mac: mac) == nil)
    }
}

extension PortMetadataEdit {
    /// Renders the element and reads it back the way the hook will (as libvirt stores it, in the
    /// `urn:vlanwire:1` namespace, inside a domain with these NICs), refusing when it does not
    /// read back as `entries` — e.g. a broken `metadata.xml.mustache` override. Returns the element.
    package func renderedAndChecked(templates: XMLTemplates) throws(Refusal) -> String? {
        guard let element = element(templates: templates) else { return nil }
        func refuse(_ cause: String) -> Refusal {
            Refusal(
                Problem(
                    guest: guest, mac: mac, cause: "the metadata template's output \(cause); nothing written",
                    fix: "check metadata.xml.mustache in the template directory"))
        }
        guard let open = element.firstRange(of: "<vlans") else { throw refuse("has no <vlans> element") }
        var namespaced = element
        namespaced.replaceSubrange(open, with: "<vlans xmlns=\"\(VLANWireMetadata.namespace)\"")
        let nics = entries.map { "<interface type='bridge'><mac address='\($0.mac)'/><source bridge='br0'/></interface>" }
        let document = "<domain><name>check</name><metadata>\(namespaced)</metadata><devices>\(nics.joined())</devices></domain>"
        let readBack: [MACAddress: PortPolicy]
        do { readBack = try DomainDescription(xml: Array(document.utf8)).metadata } catch {
            throw refuse("does not read back: \(error.problems.map(\.cause).joined(separator: "; "))")
        }
        let expected = Dictionary(uniqueKeysWithValues: entries.map { ($0.mac, $0.policy) })
        guard readBack == expected else {
            throw refuse("reads back as \(readBack.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }), not as intended")
        }
        return element
    }
}
