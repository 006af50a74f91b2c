/// What a guest NIC sees of the uplink's VLANs.
public enum PortPolicy: Hashable, Sendable, CustomStringConvertible {
    /// The guest sees one VLAN, untagged.
    case access(VLANID)
    /// The guest sees `tagged` VLANs tagged and, when given, `native` untagged.
    /// `tagged` never contains `native` (the constructor moves it out).
    case trunk(tagged: VLANSet, native: VLANID?)

    /// Builds a trunk; `native` may or may not also be listed in `tags` (libvirt lists it,
    /// Proxmox does not): either way it is carried untagged and only there.
    public static func makeTrunk(tags: VLANSet, native: VLANID?) throws(ValueError) -> PortPolicy {
        var tagged = tags
        if let native { tagged = tagged.subtracting(VLANSet(native)) }
        guard !tagged.isEmpty || native != nil else {
            throw ValueError(.portPolicy, "trunk:\(tags)", "a trunk needs at least one VLAN")
        }
        return .trunk(tagged: tagged, native: native)
    }

    /// Every VLAN the port is a member of.
    public var memberVLANs: VLANSet {
        switch self {
        case .access(let id): VLANSet(id)
        case .trunk(let tagged, let native): native.map { tagged.union(VLANSet($0)) } ?? tagged
        }
    }

    /// The VLAN untagged frames from the guest belong to, if any.
    public var untaggedVLAN: VLANID? {
        switch self {
        case .access(let id): id
        case .trunk(_, let native): native
        }
    }

    public var taggedVLANs: VLANSet {
        switch self {
        case .access: .empty
        case .trunk(let tagged, _): tagged
        }
    }

    /// Parses the config form: `10` or `access:10`; `trunk:1,5,10-20` with optional ` native:1`.
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
            throw ValueError(.portPolicy, input, "expected '10', 'access:10' or 'trunk:1,5,10-20 [native:1]'")
        }
        var native: VLANID?
        for word in words.dropFirst() {
            guard word.hasPrefix("native:"), native == nil else {
                throw ValueError(.portPolicy, input, "unexpected '\(word)' (only one 'native:N' may follow the trunk)")
            }
            do { native = try VLANID(parsing: word.dropFirst("native:".count)) } catch {
                throw ValueError(.portPolicy, input, error.description)
            }
        }
        do {
            self = try .makeTrunk(tags: try VLANSet(parsing: first.dropFirst("trunk:".count)), native: native)
        } catch {
            throw ValueError(.portPolicy, input, error.description)
        }
    }

    /// The config form, parseable by `init(parsing:)`.
    public var description: String {
        switch self {
        case .access(let id): "access:\(id)"
        case .trunk(let tagged, let native):
            native.map { "trunk:\(tagged.union(VLANSet($0))) native:\($0)" } ?? "trunk:\(tagged)"
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
