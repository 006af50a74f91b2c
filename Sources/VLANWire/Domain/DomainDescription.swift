/// What vlanwire needs from a libvirt domain XML (live, as a hook gets it on stdin, or inactive).
public struct DomainDescription: Equatable, Sendable {
    public var name: String
    public var uuid: String?
    public var interfaces: [DomainInterface]
    /// vlanwire's per-NIC policies from `<metadata><vw:vlans xmlns:vw="urn:vlanwire:1">`.
    public var metadata: [MACAddress: PortPolicy]

    public init(
        name: String, uuid: String? = nil, interfaces: [DomainInterface] = [],
        metadata: [MACAddress: PortPolicy] = [:]
    ) {
        self.name = name
        self.uuid = uuid
        self.interfaces = interfaces
        self.metadata = metadata
    }

    public func interface(mac: MACAddress) -> DomainInterface? { interfaces.first { $0.mac == mac } }

    /// Metadata policies for MACs the guest has no NIC for (yet): they wait for a NIC with that MAC
    /// (hot-plugged later: `virsh attach-interface --mac`), which `vlanwire watch` then wires.
    public var pendingPolicies: [(mac: MACAddress, policy: PortPolicy)] {
        metadata.filter { entry in !interfaces.contains { $0.mac == entry.key } }
            .sorted { $0.key < $1.key }.map { (mac: $0.key, policy: $0.value) }
    }

    /// One note per pending policy, for plan, status and doctor.
    public var pendingPolicyNotes: [String] {
        pendingPolicies.map { "NIC \($0.mac): policy \($0.policy) is pending: no NIC with this MAC yet (it applies when one is hot-plugged)" }
    }
}

/// One `<interface>` of a domain, of any type.
public struct DomainInterface: Equatable, Sendable {
    /// libvirt's interface type: `bridge`, `network`, `direct`, `hostdev`, `user`, `ethernet`, `vhostuser`, ...
    public var type: String
    public var mac: MACAddress?
    /// `<source bridge=>`: for type `bridge`, and for type `network` in live XML (the network's bridge).
    public var sourceBridge: String?
    public var sourceNetwork: String?
    public var portgroup: String?
    /// `<source dev=>` (direct/macvtap).
    public var sourceDevice: String?
    /// `<target dev=>`: the tap's name in live XML (absent at `prepare`, and in inactive XML).
    public var targetDevice: String?
    public var model: String?
    /// `<virtualport type=>`, e.g. `openvswitch`.
    public var virtualPortType: String?
    /// libvirt's own `<vlan>` on this interface, when present.
    public var libvirtVLAN: LibvirtVLAN?
    /// `<mtu size=>`: the MTU libvirt gives the tap (and the guest's NIC); nil: the default.
    public var mtu: Int?
    /// Line of the `<interface>` element, for messages.
    public var line: Int

    public init(
        type: String, mac: MACAddress? = nil, sourceBridge: String? = nil, sourceNetwork: String? = nil,
        portgroup: String? = nil, sourceDevice: String? = nil, targetDevice: String? = nil,
        model: String? = nil, virtualPortType: String? = nil, libvirtVLAN: LibvirtVLAN? = nil, mtu: Int? = nil,
        line: Int = 0
    ) {
        self.type = type
        self.mac = mac
        self.sourceBridge = sourceBridge
        self.sourceNetwork = sourceNetwork
        self.portgroup = portgroup
        self.sourceDevice = sourceDevice
        self.targetDevice = targetDevice
        self.model = model
        self.virtualPortType = virtualPortType
        self.libvirtVLAN = libvirtVLAN
        self.mtu = mtu
        self.line = line
    }

    /// Human name for messages: the MAC, else the type and line.
    public var label: String { mac?.description ?? "\(type) interface at line \(line)" }
}

/// libvirt's own `<vlan [trunk='yes']><tag id='N' [nativeMode='untagged|tagged']/>...</vlan>`.
public struct LibvirtVLAN: Equatable, Sendable {
    public struct Tag: Equatable, Sendable {
        public var id: String
        public var nativeMode: String?
    }
    public var trunk: Bool
    public var tags: [Tag]

    /// The port VLANs libvirt writes for it, as a policy: one tag without trunk='yes' is an access
    /// port; otherwise a trunk, the tag with nativeMode='untagged' its native VLAN. Nil for what
    /// libvirt does not express exactly on a Linux bridge (nativeMode='tagged', bad ids, no tag).
    public var portPolicy: PortPolicy? {
        var tagged = VLANSet.empty
        var plain: [VLANID] = []
        var native: VLANID?
        for tag in tags {
            guard let id = try? VLANID(parsing: tag.id) else { return nil }
            switch tag.nativeMode {
            case nil:
                tagged = tagged.union(VLANSet(id))
                plain.append(id)
            case "untagged"?:
                guard native == nil else { return nil }
                native = id
            default: return nil
            }
        }
        if !trunk {
            guard tags.count == 1, native == nil, let only = plain.first else { return nil }
            return .access(only)
        }
        guard !tagged.isEmpty || native != nil else { return nil }
        return try? PortPolicy.makeTrunk(tags: tagged, native: native)
    }
}

/// The vlanwire metadata element's identity in a domain's `<metadata>`.
public enum VLANWireMetadata {
    public static let namespace = "urn:vlanwire:1"
    /// The prefix `virsh metadata --key` and `virDomainSetMetadata` use.
    public static let key = "vw"
}
