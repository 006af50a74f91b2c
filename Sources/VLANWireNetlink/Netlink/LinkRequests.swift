internal import CNetlink
internal import CNetlinkShims
import VLANWire

#if canImport(Glibc)
    internal import Glibc
#endif

/// Builds the requests vlanwire sends: libnl-route's own builders where libnl 3.7 can express the
/// request, the shims where it cannot (bridge options, port VLANs). Nothing here sends.
enum LinkRequest {
    /// libnl's link object (`struct rtnl_link`), released when the closure returns.
    private static func withRouteLink<Result>(
        _ allocate: () -> OpaquePointer?, _ body: (OpaquePointer) throws(NetlinkError) -> Result
    ) throws(NetlinkError) -> Result {
        guard let link = allocate() else {
            throw NetlinkError(.libnl(NLE_NOMEM), operation: "allocate a libnl link", links: [])
        }
        defer { rtnl_link_put(link) }
        return try body(link)
    }

    /// What one RTM_NEWLINK change request sets on an existing link.
    enum Change {
        case up
        case down
        case mtu(UInt32)
        /// IFLA_MASTER; 0 releases the link from its master.
        case master(Int32)
        case alias(String)
    }

    /// RTM_NEWLINK addressed by name (ifi_index 0, IFLA_IFNAME): the kernel finds the link itself,
    /// so no index lookup is needed.
    static func change(_ name: LinkName, _ change: Change, _ context: RequestContext) throws(NetlinkError) -> NetlinkMessage {
        try withRouteLink(rtnl_link_alloc) { (original) throws(NetlinkError) in
            try withRouteLink(rtnl_link_alloc) { (changes) throws(NetlinkError) in
                rtnl_link_set_name(changes, name.rawValue)
                switch change {
                case .up: rtnl_link_set_flags(changes, UInt32(IFF_UP.rawValue))
                case .down: rtnl_link_unset_flags(changes, UInt32(IFF_UP.rawValue))
                case .mtu(let mtu): rtnl_link_set_mtu(changes, mtu)
                case .master(let index): rtnl_link_set_master(changes, index)
                case .alias(let alias): rtnl_link_set_ifalias(changes, alias)
                }
                return try NetlinkMessage(building: context.operation, links: context.links) {
                    rtnl_link_build_change_request(original, changes, 0, $0)
                }
            }
        }
    }

    /// RTM_DELLINK by name.
    static func delete(_ name: LinkName, _ context: RequestContext) throws(NetlinkError) -> NetlinkMessage {
        try withRouteLink(rtnl_link_alloc) { (link) throws(NetlinkError) in
            rtnl_link_set_name(link, name.rawValue)
            return try NetlinkMessage(building: context.operation, links: context.links) {
                rtnl_link_build_delete_request(link, $0)
            }
        }
    }

    /// RTM_GETLINK for one link by name.
    static func get(_ name: LinkName, _ context: RequestContext) throws(NetlinkError) -> NetlinkMessage {
        try NetlinkMessage(building: context.operation, links: context.links) {
            rtnl_link_build_get_request(0, name.rawValue, $0)
        }
    }

    /// RTM_NEWLINK kind vlan: `ip link add link PARENT name NAME type vlan id VID`.
    static func createVLAN(
        _ name: LinkName, parentIndex: Int32, vid: VLANID,
        _ context: RequestContext
    ) throws(NetlinkError) -> NetlinkMessage {
        try withRouteLink(rtnl_link_vlan_alloc) { (link) throws(NetlinkError) in
            rtnl_link_set_name(link, name.rawValue)
            rtnl_link_set_link(link, parentIndex)
            rtnl_link_vlan_set_id(link, vid.value)
            return try NetlinkMessage(building: context.operation, links: context.links) {
                rtnl_link_build_add_request(link, NLM_F_CREATE | NLM_F_EXCL, $0)
            }
        }
    }

    /// RTM_NEWLINK kind bridge with IFLA_BR_* options: creates (`create: true`) or changes a bridge.
    static func bridgeOptions(
        _ name: LinkName, create: Bool, _ options: cnetlink_bridge_options,
        _ context: RequestContext
    ) throws(NetlinkError) -> NetlinkMessage {
        var options = options
        return try NetlinkMessage(building: context.operation, links: context.links) { result in
            cnetlink_bridge_options_request(0, name.rawValue, create ? NLM_F_CREATE | NLM_F_EXCL : 0, &options, result)
        }
    }

    /// AF_BRIDGE RTM_SETLINK (add) or RTM_DELLINK (delete) of port VLANs: ONE message for all ranges.
    /// `isSelf`: the bridge device's own VLANs (`portIndex` is the bridge).
    static func portVLANs(
        portIndex: Int32, add: Bool, isSelf: Bool = false, _ ranges: [cnetlink_vlan_range],
        _ context: RequestContext
    ) throws(NetlinkError) -> NetlinkMessage {
        try ranges.withUnsafeBufferPointer { (buffer) throws(NetlinkError) in
            try NetlinkMessage(building: context.operation, links: context.links) { result in
                cnetlink_bridge_vlan_request(
                    Int32(add ? RTM_SETLINK : RTM_DELLINK), portIndex, isSelf ? 1 : 0,
                    buffer.baseAddress, buffer.count, result)
            }
        }
    }

    /// RTM_GETLINK dump of `family` with IFLA_EXT_MASK `filter`: AF_UNSPEC for links
    /// (`ip -d link show`), AF_BRIDGE with RTEXT_FILTER_BRVLAN_COMPRESSED for port VLANs
    /// (`bridge vlan show`, ranges kept compressed).
    static func dump(family: Int32, filter: UInt32, _ context: RequestContext) throws(NetlinkError) -> NetlinkMessage {
        guard let message = nlmsg_alloc_simple(Int32(RTM_GETLINK), NLM_F_DUMP) else {
            throw NetlinkError(.libnl(NLE_NOMEM), operation: context.operation, links: context.links)
        }
        let owned = NetlinkMessage(message)
        var header = ifinfomsg()
        header.ifi_family = UInt8(family)
        let appended = nlmsg_append(message, &header, MemoryLayout<ifinfomsg>.size, Int32(NLMSG_ALIGNTO))
        let status = appended < 0 ? appended : nla_put_u32(message, Int32(IFLA_EXT_MASK), filter)
        guard status >= 0 else {
            throw NetlinkError(.libnl(-status), operation: context.operation, links: context.links)
        }
        return owned
    }
}
