/// vlanwire's state files as JSON, written and read by hand: `state.json` (the host's part:
/// created links and their users) and `guests/NAME.json` (one guest's record).
///
/// The state's one codec, in the core: Codable's JSON needs FoundationEssentials, which the hook
/// does not link, and was most of a hook run's instructions at a few hundred guests
/// (BENCHMARKS.md). The bytes are compact with sorted keys, as JSONEncoder(.sortedKeys) writes them
/// (tests check it for the guest records), so `jq` reads them too.
extension VLANWireState {
    /// The host's part of the state; each guest's record is a file of its own (`GuestRecord.stateJSON`).
    public func stateJSON() -> [UInt8] {
        let out = StateJSONWriter()
        out.object {
            out.key("createdLinks")
            out.array(createdLinks) { link in
                out.object {
                    out.key("index")
                    out.int(Int(link.index))
                    out.key("kind")
                    out.string(link.kind)
                    out.key("name")
                    out.string(link.name.rawValue)
                }
            }
            out.key("linkUsers")
            out.array(linkUsers) { users in
                out.object {
                    out.key("guests")
                    out.array(users.guests) { out.string($0) }
                    out.key("link")
                    out.string(users.link.rawValue)
                }
            }
            out.key("usersUnknown")
            out.bool(usersUnknown)
            out.key("version")
            out.int(version)
        }
        return out.bytes
    }

    /// Reads what `stateJSON()` wrote. Keys in any order, whitespace allowed, unknown keys ignored
    /// and `null` taken as absent (as JSONDecoder does); a missing or ill-typed field is an error.
    /// A version 1 file (before per-guest files) holds every guest's record in `guests`: they are
    /// read, with their link users, so the store can move them to files of their own.
    public init(stateJSON bytes: [UInt8]) throws(JSON.DecodeError) {
        let decoding = StateJSONDecoding(bytes: bytes)
        let reader = decoding.reader
        var version: Int?
        var usersUnknown: Bool?
        var createdLinks: [CreatedLink]?
        var linkUsers: [LinkUsers]?
        var guests: [GuestRecord]?
        var state: VLANWireState?
        try decoding.whole(what: "state") { () throws in
            try reader.object { key throws in
                switch key {
                case "version": version = try reader.nullable { () throws in try reader.int() }
                case "usersUnknown": usersUnknown = try reader.nullable { () throws in try reader.bool() }
                case "createdLinks": createdLinks = try reader.nullable { () throws in try reader.array(decoding.createdLink) }
                case "linkUsers": linkUsers = try reader.nullable { () throws in try reader.array(decoding.linkUsers) }
                case "guests": guests = try reader.nullable { () throws in try reader.array(decoding.guest) }
                default: try reader.skipValue()
                }
            }
            var read = VLANWireState(
                createdLinks: try decoding.required(createdLinks, "createdLinks"), guests: guests ?? [],
                usersUnknown: try decoding.required(usersUnknown, "usersUnknown"))
            read.version = try decoding.required(version, "version")
            if read.version != 1 { read.linkUsers = try decoding.required(linkUsers, "linkUsers") }
            state = read
        }
        self = state!
    }
}

extension GuestRecord {
    /// The guest's record, for its file in `guests/`.
    public func stateJSON() -> [UInt8] {
        let out = StateJSONWriter()
        out.guest(self)
        return out.bytes
    }

    /// Reads what `stateJSON()` wrote (the same rules as `VLANWireState(stateJSON:)`).
    public init(stateJSON bytes: [UInt8]) throws(JSON.DecodeError) {
        let decoding = StateJSONDecoding(bytes: bytes)
        var record: GuestRecord?
        try decoding.whole(what: "guest record") { () throws in record = try decoding.guest() }
        self = record!
    }
}

extension StateJSONWriter {
    func guest(_ guest: GuestRecord) {
        object {
            key("name")
            string(guest.name)
            key("nics")
            array(guest.nics) { nic in
                object {
                    if let bridge = nic.bridge {
                        key("bridge")
                        string(bridge.rawValue)
                    }
                    key("mac")
                    mac(nic.mac)
                    if let policy = nic.policy {
                        key("policy")
                        self.policy(policy)
                    }
                    if let vlans = nic.portVLANs {
                        key("portVLANs")
                        object {
                            key("members")
                            vlanSet(vlans.members)
                            if let pvid = vlans.pvid {
                                key("pvid")
                                int(Int(pvid.value))
                            }
                            key("untagged")
                            vlanSet(vlans.untagged)
                        }
                    }
                    if let tap = nic.tap {
                        key("tap")
                        string(tap.rawValue)
                    }
                    if let index = nic.tapIndex {
                        key("tapIndex")
                        int(Int(index))
                    }
                    key("uses")
                    array(nic.uses) { string($0.rawValue) }
                }
            }
            if let uuid = guest.uuid {
                key("uuid")
                string(uuid)
            }
        }
    }
}

/// The state's values read from one file. Streams straight into the values: no intermediate tree
/// (building and freeing one was most of the cost of a 200-guest file). A class, so the decoding
/// closures can share its caches.
final class StateJSONDecoding {
    let reader: StateJSONReader
    /// Distinct policies and VLAN sets are few: each is parsed once (small linear caches, see
    /// StateJSONWriter.policy).
    private var policies: [(String, PortPolicy)] = []
    private var sets: [(String, VLANSet)] = []

    init(bytes: [UInt8]) { reader = StateJSONReader(bytes: bytes) }

    /// Reads the whole input with `body`, turning every failure into one `JSON.DecodeError`.
    func whole(what: String, _ body: () throws -> Void) throws(JSON.DecodeError) {
        do {
            try body()
            try reader.end()
        } catch let error as StateJSONError {
            throw JSON.DecodeError(what: what, message: error.message)
        } catch let error as ValueError {
            throw JSON.DecodeError(what: what, message: error.description)
        } catch {
            throw JSON.DecodeError(what: what, message: "\(error)")
        }
    }

    func required<T>(_ value: T?, _ key: String) throws(StateJSONError) -> T {
        guard let value else { throw StateJSONError(message: "missing key '\(key)'") }
        return value
    }

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

    func portVLANs() throws -> PortVLANs {
        var members: VLANSet?
        var untagged: VLANSet?
        var pvid: VLANID??
        try reader.object { key throws in
            switch key {
            case "members": members = try reader.nullable { () throws in try vlanSet(try reader.string()) }
            case "untagged": untagged = try reader.nullable { () throws in try vlanSet(try reader.string()) }
            case "pvid": pvid = .some(try reader.nullable { () throws in try VLANID(try reader.int()) })
            default: try reader.skipValue()
            }
        }
        return PortVLANs(members: try required(members, "members"), untagged: try required(untagged, "untagged"), pvid: pvid ?? nil)
    }

    func nic() throws -> NICRecord {
        var mac: MACAddress?
        var policyValue: PortPolicy?
        var bridge: LinkName?
        var uses: [LinkName]?
        var tap: LinkName?
        var tapIndex: Int32?
        var vlans: PortVLANs?
        try reader.object { key throws in
            switch key {
            case "mac": mac = try reader.nullable { () throws in try VLANWireState.mac(try reader.string()) }
            case "policy": policyValue = try reader.nullable { () throws in try policy(try reader.string()) }
            case "bridge": bridge = try reader.nullable { () throws in try LinkName(try reader.string()) }
            case "uses": uses = try reader.nullable { () throws in try reader.array { () throws in try LinkName(try reader.string()) } }
            case "tap": tap = try reader.nullable { () throws in try LinkName(try reader.string()) }
            case "tapIndex": tapIndex = try reader.nullable { () throws in try reader.int32() }
            case "portVLANs": vlans = try reader.nullable(portVLANs)
            default: try reader.skipValue()
            }
        }
        return NICRecord(
            mac: try required(mac, "mac"), policy: policyValue, bridge: bridge, uses: try required(uses, "uses"),
            tap: tap, tapIndex: tapIndex, portVLANs: vlans)
    }

    func guest() throws -> GuestRecord {
        var name: String?
        var uuid: String?
        var nics: [NICRecord]?
        try reader.object { key throws in
            switch key {
            case "name": name = try reader.nullable { () throws in try reader.string() }
            case "uuid": uuid = try reader.nullable { () throws in try reader.string() }
            case "nics": nics = try reader.nullable { () throws in try reader.array(nic) }
            default: try reader.skipValue()
            }
        }
        return GuestRecord(name: try required(name, "name"), uuid: uuid, nics: try required(nics, "nics"))
    }

    func createdLink() throws -> CreatedLink {
        var name: LinkName?
        var index: Int32?
        var kind: String?
        try reader.object { key throws in
            switch key {
            case "name": name = try reader.nullable { () throws in try LinkName(try reader.string()) }
            case "index": index = try reader.nullable { () throws in try reader.int32() }
            case "kind": kind = try reader.nullable { () throws in try reader.string() }
            default: try reader.skipValue()
            }
        }
        return CreatedLink(name: try required(name, "name"), index: try required(index, "index"), kind: try required(kind, "kind"))
    }

    func linkUsers() throws -> LinkUsers {
        var link: LinkName?
        var guests: [String]?
        try reader.object { key throws in
            switch key {
            case "link": link = try reader.nullable { () throws in try LinkName(try reader.string()) }
            case "guests": guests = try reader.nullable { () throws in try reader.array { () throws in try reader.string() } }
            default: try reader.skipValue()
            }
        }
        return LinkUsers(link: try required(link, "link"), guests: try required(guests, "guests"))
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
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            bytes += utf8
            bytes.append(UInt8(ascii: "\""))
            needsComma = true
            return
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += [
                    UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                    hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                ]
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

/// A strict streaming JSON reader (RFC 8259 minus fractions and exponents), bounded nesting.
/// A class, so the decoding closures can share it.
final class StateJSONReader {
    let bytes: [UInt8]
    var position = 0
    var depth = 0
    static let maximumDepth = 64

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ message: String) -> StateJSONError {
        StateJSONError(message: "\(message) at byte \(position)")
    }

    func skipWhitespace() {
        while position < bytes.count,
            bytes[position] == 0x20 || bytes[position] == 0x0A || bytes[position] == 0x0D
                || bytes[position] == 0x09
        { position += 1 }
    }

    /// The next non-space byte, not consumed.
    func peek() throws(StateJSONError) -> UInt8 {
        skipWhitespace()
        guard position < bytes.count else { throw fail("unexpected end") }
        return bytes[position]
    }

    func expect(_ literal: StaticString) throws(StateJSONError) {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw fail("unexpected end") }
        let matches = literal.withUTF8Buffer { buffer in
            (0..<count).allSatisfy { bytes[position + $0] == buffer[$0] }
        }
        guard matches else { throw fail("unexpected token") }
        position += count
    }

    /// Nothing but whitespace may follow the document.
    func end() throws(StateJSONError) {
        skipWhitespace()
        guard position == bytes.count else { throw fail("content after the JSON value") }
    }

    /// nil for `null` (consumed), else what `read` makes of the value.
    func nullable<T>(_ read: () throws -> T) throws -> T? {
        if try peek() == UInt8(ascii: "n") {
            try expect("null")
            return nil
        }
        return try read()
    }

    /// Calls `field` with each key, the reader on its value; `field` must consume the value.
    func object(_ field: (String) throws -> Void) throws {
        guard try peek() == UInt8(ascii: "{") else { throw fail("expected an object") }
        position += 1
        depth += 1
        guard depth < Self.maximumDepth else { throw fail("nested too deeply") }
        defer { depth -= 1 }
        if try peek() == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            guard try peek() == UInt8(ascii: "\"") else { throw fail("expected a key") }
            let key = try string()
            skipWhitespace()
            try expect(":")
            try field(key)
            let next = try peek()
            position += 1
            if next == UInt8(ascii: ",") { continue }
            if next == UInt8(ascii: "}") { return }
            position -= 1
            throw fail("expected ',' or '}'")
        }
    }

    func array<T>(_ element: () throws -> T) throws -> [T] {
        guard try peek() == UInt8(ascii: "[") else { throw fail("expected an array") }
        position += 1
        depth += 1
        guard depth < Self.maximumDepth else { throw fail("nested too deeply") }
        defer { depth -= 1 }
        var items: [T] = []
        if try peek() == UInt8(ascii: "]") {
            position += 1
            return items
        }
        while true {
            items.append(try element())
            let next = try peek()
            position += 1
            if next == UInt8(ascii: ",") { continue }
            if next == UInt8(ascii: "]") { return items }
            position -= 1
            throw fail("expected ',' or ']'")
        }
    }

    /// Any value, checked and thrown away (keys this version does not know).
    func skipValue() throws {
        switch try peek() {
        case UInt8(ascii: "{"): try object { _ in try skipValue() }
        case UInt8(ascii: "["): _ = try array { try skipValue() }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try bool()
        case UInt8(ascii: "n"): try expect("null")
        default: _ = try int()
        }
    }

    func bool() throws(StateJSONError) -> Bool {
        switch try peek() {
        case UInt8(ascii: "t"):
            try expect("true")
            return true
        case UInt8(ascii: "f"):
            try expect("false")
            return false
        default: throw fail("expected true or false")
        }
    }

    func int32() throws(StateJSONError) -> Int32 {
        guard let value = Int32(exactly: try int()) else { throw fail("integer out of range") }
        return value
    }

    func int() throws(StateJSONError) -> Int {
        let first = try peek()
        guard first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw fail("expected an integer")
        }
        var negative = false
        if first == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
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
        if position < bytes.count,
            bytes[position] == UInt8(ascii: ".") || bytes[position] == UInt8(ascii: "e")
                || bytes[position] == UInt8(ascii: "E")
        {
            throw fail("expected an integer")
        }
        return negative ? -value : value
    }

    /// A string, unescaped; refuses raw control characters and bad UTF-8.
    func string() throws(StateJSONError) -> String {
        guard try peek() == UInt8(ascii: "\"") else { throw fail("expected a string") }
        position += 1
        let start = position
        var ascii = true
        // The common case: no escapes; the bytes become the String directly.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text =
                    ascii
                    ? String(decoding: bytes[start..<position], as: UTF8.self)
                    : String(validating: bytes[start..<position], as: UTF8.self)
                guard let text else { throw fail("string is not valid UTF-8") }
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("control character in a string") }
            if byte >= 0x80 { ascii = false }
            position += 1
        }
        var out = Array(bytes[start..<position])
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
            guard byte == UInt8(ascii: "\\") else {
                position += 1
                continue
            }
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

    func hex4() throws(StateJSONError) -> UInt32 {
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
