/// An 802.1Q VLAN id, 1...4094. 0 (priority tag) and 4095 are reserved, and the kernel refuses them.
public struct VLANID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public static let range: ClosedRange<UInt16> = 1...4094

    public let value: UInt16

    public init(_ value: Int) throws(ValueError) {
        guard value >= Int(Self.range.lowerBound), value <= Int(Self.range.upperBound) else {
            throw ValueError(.vlanID, String(value), Self.outOfRangeReason(value))
        }
        self.value = UInt16(value)
    }

    /// Parses decimal text such as "5". Refuses signs, spaces, hex and anything else.
    public init(parsing text: some StringProtocol) throws(ValueError) {
        guard !text.isEmpty, text.utf8.count <= 6, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let number = Int(text)
        else {
            throw ValueError(.vlanID, String(text), "not a decimal number (valid: 1...4094)")
        }
        guard number >= 1, number <= 4094 else {
            throw ValueError(.vlanID, String(text), Self.outOfRangeReason(number))
        }
        self.value = UInt16(number)
    }

    private static func outOfRangeReason(_ value: Int) -> String {
        switch value {
        case 0: "0 is reserved for priority-tagged frames (valid: 1...4094)"
        case 4095: "4095 is reserved by 802.1Q (valid: 1...4094)"
        default: "out of range (valid: 1...4094)"
        }
    }

    public static func < (lhs: VLANID, rhs: VLANID) -> Bool { lhs.value < rhs.value }
    public var description: String { String(value) }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(Int.self)
        do { try self.init(raw) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Int(value))
    }
}
