/// Names of the links vlanwire creates: access bridges and VLAN legs.
public enum LinkNaming {
    /// The access bridge of `vid` on `uplink`, from its template (`{bridge}v{vid}` by default).
    /// Names over 15 bytes are shortened stably: a prefix, four hex digits of an FNV-1a hash of
    /// the full name, then `v<vid>`, so the VLAN stays readable and the name never changes.
    public static func accessBridge(for uplink: Uplink, vid: VLANID) -> LinkName {
        let full = uplink.accessBridgeTemplate
            .replacing("{bridge}", with: uplink.bridge?.rawValue ?? "")
            .replacing("{interface}", with: uplink.interface?.rawValue ?? "")
            .replacing("{vid}", with: String(vid.value))
        return shortened(full, tail: "v\(vid)")
    }

    /// The VLAN leg of `vid` on `parent`: `br0.5` (or `eth0.5`), shortened like access bridges.
    public static func vlanLeg(parent: LinkName, vid: VLANID) -> LinkName {
        shortened("\(parent).\(vid)", tail: ".\(vid)")
    }

    /// If `name` is the access bridge of some VLAN of `uplink`, that VLAN.
    public static func accessVLAN(ofBridge name: String, uplink: Uplink) -> VLANID? {
        // Try every run of digits in the name as the VLAN id; the template decides.
        var candidates: Set<UInt16> = []
        var digits = ""
        for character in name + " " {
            if character.isASCII, character.isNumber {
                digits.append(character)
                continue
            }
            if !digits.isEmpty, digits.count <= 4, let value = UInt16(digits) { candidates.insert(value) }
            digits = ""
        }
        for value in candidates.sorted() {
            guard let vid = try? VLANID(Int(value)), uplink.vlans.contains(vid) else { continue }
            if accessBridge(for: uplink, vid: vid).rawValue == name { return vid }
        }
        return nil
    }

    static func shortened(_ full: String, tail: String) -> LinkName {
        if let name = try? LinkName(full) { return name }
        let hash = fnv1a32(full)
        var hex = String(hash & 0xFFFF, radix: 16)
        while hex.count < 4 { hex = "0" + hex }
        let keep = LinkName.maximumLength - hex.utf8.count - tail.utf8.count
        let prefix = String(full.utf8.prefix(keep).filter { $0.isLinkNameByte }.map { Character(UnicodeScalar($0)) })
        // Every part is made of valid bytes and the total is at most 15.
        return try! LinkName(prefix + hex + tail)
    }

    /// 32-bit FNV-1a: stable across runs and machines (Swift's Hasher is seeded per process).
    static func fnv1a32(_ text: String) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in text.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return hash
    }
}

extension UInt8 {
    var isLinkNameByte: Bool {
        switch self {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }
}
