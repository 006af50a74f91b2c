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

/// Reads link messages with libnl's attribute parser and the shims' policies, which check every
/// attribute's size (and strings' termination) before anything is read.
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

    private static func nested(
        _ attribute: UnsafeMutablePointer<nlattr>, maximum: Int32, policy: UnsafePointer<nla_policy>
    ) -> [UnsafeMutablePointer<nlattr>?]? {
        var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: Int(maximum) + 1)
        let status = table.withUnsafeMutableBufferPointer {
            nla_parse_nested($0.baseAddress, maximum, attribute, policy)
        }
        return status < 0 ? nil : table
    }

    private static func info(_ header: UnsafeMutablePointer<nlmsghdr>) -> ifinfomsg? {
        guard nlmsg_datalen(header) >= Int32(MemoryLayout<ifinfomsg>.size) else { return nil }
        return nlmsg_data(header).loadUnaligned(as: ifinfomsg.self)
    }

    /// nil for a message that is not a well-formed RTM_NEWLINK.
    static func link(_ header: UnsafeMutablePointer<nlmsghdr>) -> ParsedLink? {
        guard header.pointee.nlmsg_type == UInt16(RTM_NEWLINK), let info = info(header),
            let table = attributes(of: header, maximum: CNETLINK_IFLA_MAX),
            let nameAttribute = table[Int(IFLA_IFNAME)]
        else { return nil }
        let operState = table[Int(IFLA_OPERSTATE)].map { Int(nla_get_u8($0)) } ?? 0
        var link = ParsedLink(
            index: info.ifi_index, name: String(cString: nla_get_string(nameAttribute)), flags: info.ifi_flags,
            operState: operStates.indices.contains(operState) ? operStates[operState] : "unknown",
            mtu: table[Int(IFLA_MTU)].map { Int(nla_get_u32($0)) } ?? 0)
        link.masterIndex = table[Int(IFLA_MASTER)].map { Int32(bitPattern: nla_get_u32($0)) }.flatMap { $0 > 0 ? $0 : nil }
        link.lowerIndex = table[Int(IFLA_LINK)].map { Int32(bitPattern: nla_get_u32($0)) }
            .flatMap { $0 > 0 && $0 != info.ifi_index ? $0 : nil }
        link.alias = table[Int(IFLA_IFALIAS)].map { String(cString: nla_get_string($0)) }
        if let address = table[Int(IFLA_ADDRESS)], nla_len(address) == 6 {
            let bytes = UnsafeRawBufferPointer(start: nla_data(address), count: 6)
            link.mac = MACAddress(octets: Array(bytes))
        }
        if let linkInfo = table[Int(IFLA_LINKINFO)],
            let infoTable = nested(linkInfo, maximum: CNETLINK_IFLA_INFO_MAX, policy: cnetlink_link_info_policy())
        {
            readLinkInfo(infoTable, into: &link)
        }
        return link
    }

    private static func readLinkInfo(_ table: [UnsafeMutablePointer<nlattr>?], into link: inout ParsedLink) {
        link.kind = table[Int(IFLA_INFO_KIND)].map { String(cString: nla_get_string($0)) }
        if let data = table[Int(IFLA_INFO_DATA)] {
            switch link.kind {
            case "bridge":
                var options = cnetlink_bridge_options()
                cnetlink_bridge_options_parse(data, &options)
                link.bridge = options
            case "vlan":
                let vlanTable = nested(data, maximum: CNETLINK_IFLA_VLAN_MAX, policy: cnetlink_vlan_info_policy())
                link.vlanID = vlanTable?[Int(IFLA_VLAN_ID)].flatMap { try? VLANID(Int(nla_get_u16($0))) }
            default:
                break
            }
        }
        let slaveKind = table[Int(IFLA_INFO_SLAVE_KIND)].map { String(cString: nla_get_string($0)) }
        if slaveKind == "bridge", let slaveData = table[Int(IFLA_INFO_SLAVE_DATA)] {
            let state = cnetlink_bridge_port_state(slaveData)
            link.portState = state >= 0 ? state : nil
        }
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
