/// The state file's JSON, written and read by hand instead of through Codable and
/// FoundationEssentials' JSONEncoder/JSONDecoder.
///
/// Why: every hook run reads and rewrites the whole state, so its cost grows with the number of
/// guests on the host. Profiled with 200 guests x 4 NICs (a 100 KB file), decoding took 69 M and
/// encoding 51 M instructions of a 158 M-instruction hook run (Benchmarks/BENCHMARKS.md); these
/// take a small fraction of that. The format is the same bytes JSONEncoder(.sortedKeys) writes —
/// compact, keys sorted, `/` escaped — and either side reads the other's files (tests check both).
extension VLANWireState {
    /// The state as compact JSON with sorted keys.
    public func stateJSON() -> [UInt8] {
        let out = StateJSONWriter()
        out.object {
            out.key("createdLinks")
            out.array(createdLinks) { link in
                out.object {
                    out.key("index"); out.int(Int(link.index))
                    out.key("kind"); out.string(link.kind)
                    out.key("name"); out.string(link.name.rawValue)
                }
            }
            out.key("guests")
            out.array(guests) { guest in
                out.object {
                    out.key("name"); out.string(guest.name)
                    out.key("nics")
                    out.array(guest.nics) { nic in
                        out.object {
                            if let bridge = nic.bridge { out.key("bridge"); out.string(bridge.rawValue) }
                            out.key("mac"); out.mac(nic.mac)
                            if let policy = nic.policy { out.key("policy"); out.policy(policy) }
                            if let vlans = nic.portVLANs {
                                out.key("portVLANs")
                                out.object {
                                    out.key("members"); out.vlanSet(vlans.members)
                                    if let pvid = vlans.pvid { out.key("pvid"); out.int(Int(pvid.value)) }
                                    out.key("untagged"); out.vlanSet(vlans.untagged)
                                }
                            }
                            if let tap = nic.tap { out.key("tap"); out.string(tap.rawValue) }
                            if let index = nic.tapIndex { out.key("tapIndex"); out.int(Int(index)) }
                            out.key("uses")
                            out.array(nic.uses) { out.string($0.rawValue) }
                        }
                    }
                    if let uuid = guest.uuid { out.key("uuid"); out.string(uuid) }
                }
            }
            out.key("usersUnknown"); out.bool(usersUnknown)
            out.key("version"); out.int(version)
        }
        return out.bytes
    }

    /// Reads what `stateJSON()` (or JSONEncoder) wrote. Keys in any order, whitespace allowed,
    /// unknown keys ignored (as JSONDecoder does); a missing or ill-typed field is an error.
    public init(stateJSON bytes: [UInt8]) throws(JSON.DecodeError) {
        let root: StateJSONValue
        do {
            var reader = StateJSONReader(bytes: bytes)
            root = try reader.document()
        } catch {
            throw JSON.DecodeError(what: "state", message: error.message)
        }
        // Distinct policies and VLAN sets are few: each is parsed once (small linear caches, see
        // StateJSONWriter.policy).
        var policies: [(String, PortPolicy)] = []
        var sets: [(String, VLANSet)] = []
        func policy(_ text: String) throws(ValueError) -> PortPolicy {
            if let known = policies.first(where: { $0.0 == text }) { return known.1 }
            let parsed = try PortPolicy(parsing: text)
            if policies.count < 16 { policies.append((text, parsed)) }
            return parsed
        }
        func vlanSet(_ text: String) throws(ValueError) -> VLANSet {
            if text.isEmpty { return .empty }
            if let known = sets.first(where: { $0.0 == text }) { return known.1 }
            let parsed = try VLANSet(parsing: text)
            if sets.count < 16 { sets.append((text, parsed)) }
            return parsed
        }
        do {
            let object = try root.object("state")
            version = try object.required("version").int("version")
            usersUnknown = try object.required("usersUnknown").bool("usersUnknown")
            createdLinks = try object.required("createdLinks").array("createdLinks").map { value in
                let link = try value.object("createdLinks[]")
                return CreatedLink(name: try LinkName(try link.required("name").string("name")),
                                   index: Int32(try link.required("index").int("index")),
                                   kind: try link.required("kind").string("kind"))
            }
            guests = try object.required("guests").array("guests").map { value in
                let guest = try value.object("guests[]")
                let nics = try guest.required("nics").array("nics").map { value in
                    let nic = try value.object("nics[]")
                    var record = NICRecord(
                        mac: try Self.mac(try nic.required("mac").string("mac")),
                        policy: try nic.optional("policy").map { try policy(try $0.string("policy")) },
                        bridge: try nic.optional("bridge").map { try LinkName(try $0.string("bridge")) },
                        uses: try nic.required("uses").array("uses").map { try LinkName(try $0.string("uses[]")) },
                        tap: try nic.optional("tap").map { try LinkName(try $0.string("tap")) },
                        tapIndex: try nic.optional("tapIndex").map { Int32(try $0.int("tapIndex")) })
                    if let vlans = nic.optional("portVLANs") {
                        let fields = try vlans.object("portVLANs")
                        func set(_ key: String) throws -> VLANSet {
                            try vlanSet(try fields.required(key).string(key))
                        }
                        record.portVLANs = PortVLANs(members: try set("members"), untagged: try set("untagged"),
                                                     pvid: try fields.optional("pvid").map { try VLANID(try $0.int("pvid")) })
                    }
                    return record
                }
                return GuestRecord(name: try guest.required("name").string("name"),
                                   uuid: try guest.optional("uuid").map { try $0.string("uuid") }, nics: nics)
            }
        } catch let error as StateJSONError {
            throw JSON.DecodeError(what: "state", message: error.message)
        } catch let error as ValueError {
            throw JSON.DecodeError(what: "state", message: error.description)
        } catch {
            throw JSON.DecodeError(what: "state", message: "\(error)")
        }
    }
}

extension VLANWireState {
    /// The canonical `52:54:00:00:00:01` read directly; anything else through MACAddress(parsing:).
    static func mac(_ text: String) throws(ValueError) -> MACAddress {
        let utf8 = Array(text.utf8)
        func nibble(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        if utf8.count == 17 {
            var octets: [UInt8] = []
            for index in 0..<6 {
                let at = index * 3
                guard index == 5 || utf8[at + 2] == UInt8(ascii: ":"), let high = nibble(utf8[at]), let low = nibble(utf8[at + 1])
                else { return try MACAddress(parsing: text) }
                octets.append(high << 4 | low)
            }
            return MACAddress(octets: octets)
        }
        return try MACAddress(parsing: text)
    }
}

struct StateJSONError: Error {
    var message: String
}

/// Compact JSON output, escaping like JSONEncoder: `"` `\` `/`, \b \f \n \r \t, other controls as \u00XX.
final class StateJSONWriter {
    var bytes: [UInt8] = []
    private var needsComma = false

    init() { bytes.reserveCapacity(4096) }

    func object(_ body: () -> Void) {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        body()
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    func array<T>(_ items: [T], _ body: (T) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        for item in items { body(item) }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    func string(_ text: String) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        let utf8 = text.utf8
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "/") }) {
            bytes += utf8
            bytes.append(UInt8(ascii: "\""))
            needsComma = true
            return
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "/"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "/")]
            case 0x08: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                          hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// `52:54:00:00:00:01`, as MACAddress.description prints it, without building strings.
    func mac(_ address: MACAddress) {
        separate()
        let hex = Self.hexDigits
        bytes.append(UInt8(ascii: "\""))
        for index in 0..<6 {
            let octet = UInt8(truncatingIfNeeded: address.value >> (8 * (5 - index)))
            if index > 0 { bytes.append(UInt8(ascii: ":")) }
            bytes.append(hex[Int(octet >> 4)])
            bytes.append(hex[Int(octet & 0xF)])
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Policies and VLAN sets repeat across NICs: each distinct one is described once. Small linear
    /// caches, not dictionaries: instantiating a new Dictionary type costs ~0.4 M instructions of
    /// conformance lookups in this binary, more than a 1-guest state's whole encoding.
    private var policyTexts: [(PortPolicy, String)] = []
    private var setTexts: [(VLANSet, String)] = []

    func policy(_ policy: PortPolicy) {
        if let known = policyTexts.first(where: { $0.0 == policy }) { return string(known.1) }
        let text = policy.description
        if policyTexts.count < 16 { policyTexts.append((policy, text)) }
        string(text)
    }

    func vlanSet(_ set: VLANSet) {
        if set.isEmpty { return string("") }
        if let known = setTexts.first(where: { $0.0 == set }) { return string(known.1) }
        let text = set.description
        if setTexts.count < 16 { setTexts.append((set, text)) }
        string(text)
    }

    func int(_ value: Int) {
        separate()
        bytes += Array(String(value).utf8)
        needsComma = true
    }

    func bool(_ value: Bool) {
        separate()
        bytes += Array((value ? "true" : "false").utf8)
        needsComma = true
    }

    private func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }
}

/// A parsed JSON value (what the state file needs: no floats).
indirect enum StateJSONValue {
    case object([String: StateJSONValue])
    case array([StateJSONValue])
    case string(String)
    case int(Int)
    case bool(Bool)
    case null

    func object(_ what: String) throws(StateJSONError) -> [String: StateJSONValue] {
        guard case .object(let fields) = self else { throw StateJSONError(message: "\(what): expected an object") }
        return fields
    }

    func array(_ what: String) throws(StateJSONError) -> [StateJSONValue] {
        guard case .array(let items) = self else { throw StateJSONError(message: "\(what): expected an array") }
        return items
    }

    func string(_ what: String) throws(StateJSONError) -> String {
        guard case .string(let text) = self else { throw StateJSONError(message: "\(what): expected a string") }
        return text
    }

    func int(_ what: String) throws(StateJSONError) -> Int {
        guard case .int(let value) = self else { throw StateJSONError(message: "\(what): expected an integer") }
        return value
    }

    func bool(_ what: String) throws(StateJSONError) -> Bool {
        guard case .bool(let value) = self else { throw StateJSONError(message: "\(what): expected true or false") }
        return value
    }
}

extension Dictionary where Key == String, Value == StateJSONValue {
    func required(_ key: String) throws(StateJSONError) -> StateJSONValue {
        guard let value = self[key], !value.isNull else { throw StateJSONError(message: "missing key '\(key)'") }
        return value
    }

    /// Absent and `null` both mean nil, as with JSONDecoder's decodeIfPresent.
    func optional(_ key: String) -> StateJSONValue? {
        guard let value = self[key], !value.isNull else { return nil }
        return value
    }
}

extension StateJSONValue {
    var isNull: Bool { if case .null = self { true } else { false } }
}

/// A strict JSON reader (RFC 8259 minus fractions and exponents), bounded nesting.
struct StateJSONReader {
    let bytes: [UInt8]
    var position = 0
    static let maximumDepth = 64

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() throws(StateJSONError) -> StateJSONValue {
        let value = try value(depth: 0)
        skipWhitespace()
        guard position == bytes.count else { throw fail("content after the JSON value") }
        return value
    }

    func fail(_ message: String) -> StateJSONError {
        StateJSONError(message: "\(message) at byte \(position)")
    }

    mutating func skipWhitespace() {
        while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x0A || bytes[position] == 0x0D
            || bytes[position] == 0x09 { position += 1 }
    }

    mutating func expect(_ literal: StaticString) throws(StateJSONError) {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw fail("unexpected end") }
        let matches = literal.withUTF8Buffer { buffer in
            (0..<count).allSatisfy { bytes[position + $0] == buffer[$0] }
        }
        guard matches else { throw fail("unexpected token") }
        position += count
    }

    mutating func value(depth: Int) throws(StateJSONError) -> StateJSONValue {
        guard depth < Self.maximumDepth else { throw fail("nested too deeply") }
        skipWhitespace()
        guard position < bytes.count else { throw fail("unexpected end") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            position += 1
            var fields: [String: StateJSONValue] = [:]
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(fields) }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let key = try string()
                skipWhitespace()
                try expect(":")
                fields[key] = try value(depth: depth + 1)
                skipWhitespace()
                guard position < bytes.count else { throw fail("unexpected end") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(fields) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            position += 1
            var items: [StateJSONValue] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                guard position < bytes.count else { throw fail("unexpected end") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try expect("true"); return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false"); return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .int(try integer())
        default:
            throw fail("unexpected character")
        }
    }

    mutating func integer() throws(StateJSONError) -> Int {
        var negative = false
        if bytes[position] == UInt8(ascii: "-") { negative = true; position += 1 }
        let start = position
        var value = 0
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(bytes[position] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw fail("integer out of range") }
            value = sum
            position += 1
        }
        guard position > start else { throw fail("expected digits") }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") || bytes[position] == UInt8(ascii: "e")
            || bytes[position] == UInt8(ascii: "E") { throw fail("expected an integer") }
        return negative ? -value : value
    }

    /// A string at `position` (its opening quote), unescaped; refuses raw control characters and bad UTF-8.
    mutating func string() throws(StateJSONError) -> String {
        position += 1
        var out: [UInt8] = []
        var runStart = position
        while true {
            guard position < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                out += bytes[runStart..<position]
                position += 1
                break
            }
            if byte < 0x20 { throw fail("control character in a string") }
            guard byte == UInt8(ascii: "\\") else { position += 1; continue }
            out += bytes[runStart..<position]
            position += 1
            guard position < bytes.count else { throw fail("unterminated escape") }
            let escaped = bytes[position]
            position += 1
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    try expect("\\u")
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                out += Array(String(Character(unicode)).utf8)
            default:
                throw fail("invalid escape")
            }
            runStart = position
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return text
    }

    mutating func hex4() throws(StateJSONError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw fail("unterminated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
