/// A 48-bit Ethernet address, printed lower-case with colons (`52:54:00:00:00:01`) as libvirt does.
public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// The six octets in the low 48 bits, first octet most significant.
    public let value: UInt64

    public init(octets: [UInt8]) {
        precondition(octets.count == 6)
        value = octets.reduce(0) { ($0 << 8) | UInt64($1) }
    }

    /// Parses `52:54:00:AB:cd:01` (also `-` separated). Each octet is one or two hex digits.
    public init(parsing text: some StringProtocol) throws(ValueError) {
        let input = String(text)
        let parts = input.split(omittingEmptySubsequences: false, whereSeparator: { $0 == ":" || $0 == "-" })
        guard input.utf8.count <= 17, parts.count == 6 else {
            throw ValueError(.macAddress, input, "expected six hex octets like 52:54:00:00:00:01")
        }
        var octets: [UInt8] = []
        for part in parts {
            guard (1...2).contains(part.utf8.count), part.utf8.allSatisfy({ $0.isASCIIHexDigit }),
                let octet = UInt8(part, radix: 16)
            else {
                throw ValueError(.macAddress, input, "'\(part)' is not a hex octet")
            }
            octets.append(octet)
        }
        self.init(octets: octets)
    }

    public var octets: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: value >> (8 * (5 - $0))) } }

    public var isMulticast: Bool { octets[0] & 0x01 != 0 }

    /// The MAC libvirt gives a guest NIC's host-side tap: the guest's with the first octet 0xfe
    /// (0xfa when the guest's already starts with 0xfe), so a bridge, which takes the lowest port
    /// MAC, never takes the guest's address as its own.
    public var libvirtTapAddress: MACAddress {
        MACAddress(octets: [octets[0] == 0xFE ? 0xFA : 0xFE] + octets.dropFirst())
    }

    public var description: String {
        octets.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.value < rhs.value }

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

extension UInt8 {
    var isASCIIHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
