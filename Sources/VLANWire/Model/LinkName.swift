/// A network interface name, checked before it reaches the kernel, a sysfs path or a log.
///
/// The kernel takes 1...15 bytes (IFNAMSIZ 16 with the NUL), not `.`/`..`, no `/`, `:` or
/// whitespace. vlanwire is stricter: letters, digits, `.`, `-` and `_` only, so a name is always
/// safe to put in a path or a message (real interface names fit: `eth0`, `enp3s0f1.100`, `br-lan`).
public struct LinkName: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public static let maximumLength = 15

    public let rawValue: String

    public init(_ text: some StringProtocol) throws(ValueError) {
        let name = String(text)
        let length = name.utf8.count
        guard length > 0 else { throw ValueError(.linkName, name, "empty") }
        guard length <= Self.maximumLength else {
            throw ValueError(.linkName, name, "\(length) bytes; the kernel allows at most \(Self.maximumLength)")
        }
        guard name != ".", name != ".." else { throw ValueError(.linkName, name, "'.' and '..' are not link names") }
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
                continue
            case UInt8(ascii: "/"):
                throw ValueError(.linkName, name, "contains '/'")
            case 0..<0x21, 0x7F:
                throw ValueError(.linkName, name, "contains whitespace or a control character")
            default:
                throw ValueError(.linkName, name, "contains '\(Self.display(byte))' (allowed: letters, digits, '.', '-', '_')")
            }
        }
        rawValue = name
    }

    private static func display(_ byte: UInt8) -> String {
        byte < 0x80 ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }

    public var description: String { rawValue }
    public static func < (lhs: LinkName, rhs: LinkName) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
