internal import CNetlink
internal import CNetlinkShims
import VLANWire

/// One RTM_NEWLINK message of an AF_UNSPEC dump, as read (indexes not yet resolved to names).
struct ParsedLink {
    var index: Int32
    var name: String
    var flags: UInt32
    var kind: String?
    var masterIndex: Int32?
    /// IFLA_LINK: the lower device (a VLAN leg's parent).
    var lowerIndex: Int32?
    var operState: String
    var mtu: Int
    var mac: MACAddress?
    var alias: String?
    var vlanID: VLANID?
    var bridge: cnetlink_bridge_options?
    /// BR_STATE_* when this link is a bridge port.
    var portState: Int32?
}

/// One RTM_NEWLINK message of an AF_BRIDGE dump: a bridge port (or bridge) and its VLANs.
struct ParsedBridgeVLANs {
    var index: Int32
    var ranges: [cnetlink_vlan_range]
}

/// Reads link messages: a dump's RTM_NEWLINK in one pass (`cnetlink_link_read`), announcements and
/// port VLANs with libnl's attribute parser and the shims' policies. Both check every attribute's
/// size (and strings' termination) before anything is read.
enum LinkParser {
    private static let operStates = ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"]
    static let portStates = ["disabled", "listening", "learning", "forwarding", "blocking"]

    private static func attributes(
        of header: UnsafeMutablePointer<nlmsghdr>, maximum: Int32
    ) -> [UnsafeMutablePointer<nlattr>?]? {
        var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: Int(maximum) + 1)
        let status = table.withUnsafeMutableBufferPointer {
            nlmsg_parse(header, Int32(MemoryLayout<ifinfomsg>.size), $0.baseAddress, maximum, cnetlink_link_policy())
        }
        return status < 0 ? nil : table
    }

    private static func info(_ header: UnsafeMutablePointer<nlmsghdr>) -> ifinfomsg? {
        guard nlmsg_datalen(header) >= Int32(MemoryLayout<ifinfomsg>.size) else { return nil }
        return nlmsg_data(header).loadUnaligned(as: ifinfomsg.self)
    }

    /// nil for a message that is not a well-formed RTM_NEWLINK. One pass in C (`cnetlink_link_read`):
    /// a dump returns one such message per link, hundreds on a host with many guests.
    static func link(_ header: UnsafeMutablePointer<nlmsghdr>) -> ParsedLink? {
        var read = cnetlink_link()
        guard cnetlink_link_read(header, &read) == 0 else { return nil }
        func has(_ field: cnetlink_link_field) -> Bool { read.present & field.rawValue != 0 }
        let operState = has(CNETLINK_LINK_OPERSTATE) ? Int(read.operstate) : 0
        var link = ParsedLink(
            index: read.index, name: String(cString: read.name), flags: read.flags,
            operState: operStates.indices.contains(operState) ? operStates[operState] : "unknown",
            mtu: has(CNETLINK_LINK_MTU) ? Int(read.mtu) : 0)
        link.masterIndex = has(CNETLINK_LINK_MASTER) ? Int32(bitPattern: read.master) : nil
        if link.masterIndex ?? 0 <= 0 { link.masterIndex = nil }
        let lower = Int32(bitPattern: read.lower)
        link.lowerIndex = has(CNETLINK_LINK_LOWER) && lower > 0 && lower != read.index ? lower : nil
        link.alias = read.alias.map { String(cString: $0) }
        if has(CNETLINK_LINK_ADDRESS) {
            link.mac = withUnsafeBytes(of: read.address) { MACAddress(octets: Array($0)) }
        }
        link.kind = read.kind.map { String(cString: $0) }
        if link.kind == "bridge", let data = read.info_data {
            var options = cnetlink_bridge_options()
            cnetlink_bridge_options_parse(data, &options)
            link.bridge = options
        }
        if has(CNETLINK_LINK_VLAN_ID) { link.vlanID = try? VLANID(Int(read.vlan_id)) }
        if has(CNETLINK_LINK_PORT_STATE) { link.portState = Int32(read.port_state) }
        return link
    }

    /// A link announcement (RTM_NEWLINK/RTM_DELLINK of any family, RTM_NEWVLAN/RTM_DELVLAN);
    /// nil for anything else or a malformed message.
    static func change(_ header: UnsafeMutablePointer<nlmsghdr>) -> LinkMonitor.Change? {
        switch Int32(header.pointee.nlmsg_type) {
        case Int32(RTM_NEWLINK), Int32(RTM_DELLINK):
            guard let info = info(header) else { return nil }
            let table = attributes(of: header, maximum: CNETLINK_IFLA_MAX)
            let name = table?[Int(IFLA_IFNAME)].map { String(cString: nla_get_string($0)) }
            let master = table?[Int(IFLA_MASTER)].map { Int32(bitPattern: nla_get_u32($0)) }.flatMap { $0 > 0 ? $0 : nil }
            // An AF_BRIDGE RTM_DELLINK removes port VLANs or a port, not the link itself.
            let removed = header.pointee.nlmsg_type == UInt16(RTM_DELLINK) && info.ifi_family != UInt8(AF_BRIDGE)
            let mac = table?[Int(IFLA_ADDRESS)].flatMap { address -> MACAddress? in
                guard nla_len(address) == 6 else { return nil }
                return MACAddress(octets: Array(UnsafeRawBufferPointer(start: nla_data(address), count: 6)))
            }
            return LinkMonitor.Change(index: info.ifi_index, name: name, masterIndex: master, mac: mac, removed: removed)
        case Int32(RTM_NEWVLAN), Int32(RTM_DELVLAN):
            // struct br_vlan_msg: family (u8), two reserved fields (u8, u16), then the port's ifindex (u32).
            guard nlmsg_datalen(header) >= 8 else { return nil }
            let index = Int32(bitPattern: nlmsg_data(header).loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            return LinkMonitor.Change(index: index, name: nil, masterIndex: nil, mac: nil, removed: false)
        default:
            return nil
        }
    }

    /// nil for a message that is not a well-formed RTM_NEWLINK; empty ranges for a link without VLANs.
    static func bridgeVLANs(_ header: UnsafeMutablePointer<nlmsghdr>) -> ParsedBridgeVLANs? {
        guard header.pointee.nlmsg_type == UInt16(RTM_NEWLINK), let info = info(header),
            let table = attributes(of: header, maximum: CNETLINK_IFLA_MAX)
        else { return nil }
        guard let afSpec = table[Int(IFLA_AF_SPEC)] else {
            return ParsedBridgeVLANs(index: info.ifi_index, ranges: [])
        }
        var ranges = [cnetlink_vlan_range](repeating: cnetlink_vlan_range(), count: 16)
        while true {
            let count = ranges.withUnsafeMutableBufferPointer {
                cnetlink_bridge_vlan_parse(afSpec, $0.baseAddress, $0.count)
            }
            guard count >= 0 else { return nil }
            if count <= ranges.count {
                return ParsedBridgeVLANs(index: info.ifi_index, ranges: Array(ranges.prefix(count)))
            }
            ranges = [cnetlink_vlan_range](repeating: cnetlink_vlan_range(), count: count)
        }
    }
}
