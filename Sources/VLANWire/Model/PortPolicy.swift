/// How a trunk's native VLAN leaves the port towards the guest (libvirt's `nativeMode`, Open
/// vSwitch's `native-untagged`/`native-tagged`). Either way, untagged frames FROM the guest join it.
public enum NativeMode: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Frames to the guest on the native VLAN leave untagged (bridge: PVID and untagged).
    case untagged
    /// Frames to the guest on the native VLAN leave tagged (bridge: PVID without untagged).
    case tagged

    public var description: String { rawValue }
}

/// What a guest NIC sees of the uplink's VLANs.
public enum PortPolicy: Hashable, Sendable, CustomStringConvertible {
    /// The guest sees one VLAN, untagged.
    case access(VLANID)
    /// The guest sees `tagged` VLANs tagged and, when given, `native`: untagged frames from the
    /// guest join it, and frames to the guest on it leave untagged or, with `nativeMode` `.tagged`,
    /// tagged. `tagged` never contains `native` (the constructor moves it out).
    case trunk(tagged: VLANSet, native: VLANID?, nativeMode: NativeMode = .untagged)

    /// Builds a trunk; `native` may or may not also be listed in `tags` (libvirt lists it,
    /// Proxmox does not): either way it is the port's PVID, untagged or (`nativeMode: .tagged`)
    /// tagged. A tagged native needs a native VLAN.
    public static func makeTrunk(tags: VLANSet, native: VLANID?, nativeMode: NativeMode = .untagged) throws(ValueError) -> PortPolicy {
        var tagged = tags
        if let native { tagged = tagged.subtracting(VLANSet(native)) }
        guard !tagged.isEmpty || native != nil else {
            throw ValueError(.portPolicy, "trunk:\(tags)", "a trunk needs at least one VLAN")
        }
        guard native != nil || nativeMode == .untagged else {
            throw ValueError(.portPolicy, "trunk:\(tags)", "native mode tagged needs a native VLAN")
        }
        return .trunk(tagged: tagged, native: native, nativeMode: native == nil ? .untagged : nativeMode)
    }

    /// The trunk's native VLAN and how it leaves the port; nil for an access port or a trunk
    /// without one.
    public var native: (vid: VLANID, mode: NativeMode)? {
        guard case .trunk(_, let native?, let mode) = self else { return nil }
        return (native, mode)
    }

    /// True for a trunk whose native VLAN leaves the port tagged.
    public var isNativeTagged: Bool { native?.mode == .tagged }

    /// Every VLAN the port is a member of.
    public var memberVLANs: VLANSet {
        switch self {
        case .access(let id): VLANSet(id)
        case .trunk(let tagged, let native, _): native.map { tagged.union(VLANSet($0)) } ?? tagged
        }
    }

    /// The VLAN untagged frames from the guest belong to (the port's PVID), if any.
    public var untaggedVLAN: VLANID? {
        switch self {
        case .access(let id): id
        case .trunk(_, let native, _): native
        }
    }

    /// The VLAN whose frames leave the port towards the guest untagged, if any: an access port's,
    /// a trunk's native VLAN unless it is tagged.
    public var egressUntaggedVLAN: VLANID? {
        switch self {
        case .access(let id): id
        case .trunk(_, let native, let mode): mode == .untagged ? native : nil
        }
    }

    /// The VLANs whose frames leave the port towards the guest tagged (a tagged native included).
    public var taggedVLANs: VLANSet {
        switch self {
        case .access: .empty
        case .trunk(let tagged, let native?, .tagged): tagged.union(VLANSet(native))
        case .trunk(let tagged, _, _): tagged
        }
    }

    /// Parses the config form: `10` or `access:10`; `trunk:1,5,10-20` with optional ` native:1`
    /// (untagged native) or ` native-tagged:1` (tagged native; it must be one of the trunk's VLANs).
    public init(parsing text: some StringProtocol) throws(ValueError) {
        let input = String(text)
        let words = input.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let first = words.first else { throw ValueError(.portPolicy, input, "empty") }
        if words.count == 1, !first.hasPrefix("trunk:") {
            let vid = first.hasPrefix("access:") ? first.dropFirst("access:".count) : first
            do { self = .access(try VLANID(parsing: vid)) } catch {
                throw ValueError(.portPolicy, input, error.description)
            }
            return
        }
        guard first.hasPrefix("trunk:") else {
            throw ValueError(.portPolicy, input, "expected '10', 'access:10' or 'trunk:1,5,10-20 [native:1 | native-tagged:1]'")
        }
        var native: VLANID?
        var mode = NativeMode.untagged
        for word in words.dropFirst() {
            let prefix = word.hasPrefix("native:") ? "native:" : word.hasPrefix("native-tagged:") ? "native-tagged:" : nil
            guard let prefix, native == nil else {
                throw ValueError(
                    .portPolicy, input, "unexpected '\(word)' (only one 'native:N' or 'native-tagged:N' may follow the trunk)")
            }
            do { native = try VLANID(parsing: word.dropFirst(prefix.count)) } catch {
                throw ValueError(.portPolicy, input, error.description)
            }
            if prefix == "native-tagged:" { mode = .tagged }
        }
        let tags: VLANSet
        do { tags = try VLANSet(parsing: first.dropFirst("trunk:".count)) } catch {
            throw ValueError(.portPolicy, input, error.description)
        }
        if let native, mode == .tagged, !tags.contains(native) {
            throw ValueError(
                .portPolicy, input, "native-tagged VLAN \(native) is not in the trunk's VLANs \(tags) (list it: trunk:\(tags.union(VLANSet(native))))"
            )
        }
        do { self = try .makeTrunk(tags: tags, native: native, nativeMode: mode) } catch {
            throw ValueError(.portPolicy, input, error.description)
        }
    }

    /// The config form, parseable by `init(parsing:)`.
    public var description: String {
        switch self {
        case .access(let id): "access:\(id)"
        case .trunk(let tagged, let native, let mode):
            native.map { "trunk:\(tagged.union(VLANSet($0))) \(mode == .tagged ? "native-tagged" : "native"):\($0)" } ?? "trunk:\(tagged)"
        }
    }
}

extension PortPolicy: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
