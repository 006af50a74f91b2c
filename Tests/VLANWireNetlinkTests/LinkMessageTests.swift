import CNetlink
import Testing
import VLANWire
import VLANWireTestSupport

@testable import VLANWireNetlink

/// The one-pass reader of a dump's link messages (`cnetlink_link_read`), on hand-built messages:
/// the fields vlanwire uses, and every malformed attribute it reads refused, as libnl's policies did.
/// (Well-formed kernel messages are read in every namespace test; these are the ones a kernel does not send.)
@Suite("Link messages")
struct LinkMessageTests {
    // linux/if_link.h, linux/rtnetlink.h
    static let ifname: UInt16 = 3, mtu: UInt16 = 4, lower: UInt16 = 5, master: UInt16 = 10, operstate: UInt16 = 16
    static let address: UInt16 = 1, linkinfo: UInt16 = 18, ifalias: UInt16 = 20
    static let infoKind: UInt16 = 1, infoData: UInt16 = 2, infoSlaveKind: UInt16 = 4, infoSlaveData: UInt16 = 5
    static let vlanID: UInt16 = 1, portState: UInt16 = 1, nested: UInt16 = 0x8000
    static let newLink: UInt16 = 16, delLink: UInt16 = 17

    static func attribute(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        let length = 4 + payload.count
        var bytes = le(UInt16(length)) + le(type) + payload
        while bytes.count % 4 != 0 { bytes.append(0) }
        return bytes
    }
    static func string(_ type: UInt16, _ text: String) -> [UInt8] { attribute(type, Array(text.utf8) + [0]) }
    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    /// nlmsghdr + ifinfomsg (index 7, IFF_UP) + `attributes`.
    static func message(type: UInt16 = newLink, _ attributes: [[UInt8]], ifinfoBytes: Int = 16) -> [UInt8] {
        let ifinfo = ([0, 0] + le(UInt16(1)) + le(Int32(7)) + le(UInt32(1)) + le(UInt32(0))).prefix(ifinfoBytes)
        let body = Array(ifinfo) + attributes.flatMap { $0 }
        return le(UInt32(16 + body.count)) + le(type) + le(UInt16(0)) + le(UInt32(0)) + le(UInt32(0)) + body
    }

    static func read(_ bytes: [UInt8]) -> ParsedLink? {
        var copy = bytes
        return copy.withUnsafeMutableBytes { LinkParser.link($0.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)) }
    }

    @Test func aTapInABridge() throws {
        let link = try #require(
            Self.read(
                Self.message([
                    Self.string(Self.ifname, "vnet0"), Self.attribute(Self.mtu, Self.le(UInt32(9000))),
                    Self.attribute(Self.master, Self.le(UInt32(3))), Self.attribute(Self.operstate, [6]),
                    Self.attribute(Self.address, [0xfe, 0x54, 0, 0, 0, 1]), Self.string(Self.ifalias, "vlanwire"),
                    Self.attribute(200, [1, 2, 3]),  // unknown: skipped
                    Self.attribute(
                        Self.linkinfo | Self.nested,
                        Self.string(Self.infoKind, "tun") + Self.string(Self.infoSlaveKind, "bridge")
                            + Self.attribute(Self.infoSlaveData | Self.nested, Self.attribute(Self.portState, [3]))),
                ])))
        #expect(link.index == 7 && link.name == "vnet0" && link.mtu == 9000 && link.masterIndex == 3)
        #expect(link.operState == "up" && link.kind == "tun" && link.portState == 3 && link.alias == "vlanwire")
        #expect(link.mac == mac("fe:54:00:00:00:01") && link.lowerIndex == nil && link.vlanID == nil)
    }

    @Test func aVLANLeg() throws {
        let link = try #require(
            Self.read(
                Self.message([
                    Self.string(Self.ifname, "br0.5"), Self.attribute(Self.lower, Self.le(UInt32(2))),
                    Self.attribute(
                        Self.linkinfo | Self.nested,
                        Self.string(Self.infoKind, "vlan")
                            + Self.attribute(Self.infoData | Self.nested, Self.attribute(Self.vlanID, Self.le(UInt16(5))))),
                ])))
        #expect(link.kind == "vlan" && link.vlanID == vid(5) && link.lowerIndex == 2 && link.masterIndex == nil && link.portState == nil)
    }

    @Test(arguments: [
        ("no name", message([attribute(mtu, le(UInt32(1500)))])),
        ("a name without its NUL", message([attribute(ifname, Array("vnet0".utf8))])),
        ("a name longer than IFNAMSIZ", message([string(ifname, String(repeating: "n", count: 16))])),
        ("a short MTU", message([string(ifname, "vnet0"), attribute(mtu, [1, 2])])),
        ("an empty operstate", message([string(ifname, "vnet0"), attribute(operstate, [])])),
        ("a kind without its NUL", message([string(ifname, "vnet0"), attribute(linkinfo, attribute(infoKind, Array("tun".utf8)))])),
        (
            "a short VLAN ID",
            message([string(ifname, "x.5"), attribute(linkinfo, string(infoKind, "vlan") + attribute(infoData, attribute(vlanID, [5])))])
        ),
        ("not RTM_NEWLINK", message(type: delLink, [string(ifname, "vnet0")])),
        ("a header shorter than ifinfomsg", message([], ifinfoBytes: 8)),
    ])
    func refuses(_ what: String, _ bytes: [UInt8]) {
        #expect(Self.read(bytes) == nil, "\(what)")
    }

    /// An attribute whose length runs past the message ends the walk (nla_ok), never a read past it.
    @Test func aTruncatedAttributeEndsTheWalk() throws {
        var bytes = Self.message([Self.string(Self.ifname, "vnet0"), Self.attribute(Self.mtu, Self.le(UInt32(1500)))])
        bytes[bytes.count - 8] = 200  // the MTU attribute now claims 200 bytes
        let link = try #require(Self.read(bytes))
        #expect(link.name == "vnet0" && link.mtu == 0)
    }
}
