internal import CNetlink
internal import CNetlinkShims
public import Logging
public import VLANWire

#if canImport(Glibc)
    internal import Glibc
#endif

/// Link changes in ONE network namespace as the kernel announces them: a link added or deleted, a
/// port moved between bridges, a port's VLANs changed, a bridge's options changed. `vlanwire watch`
/// polls `fileDescriptor` and calls `read()` when it is readable; nothing here blocks.
///
/// Equivalent to: `ip monitor link` plus `bridge monitor link vlan`.
public final class LinkMonitor {
    /// One announcement, as much of it as the watcher needs to find the guests it concerns.
    public struct Change: Hashable, Sendable, CustomStringConvertible {
        public var index: Int32
        /// The link's name (absent in bridge VLAN notifications, which carry only the index).
        public var name: String?
        /// The link's bridge (or bond), when it has one.
        public var masterIndex: Int32?
        /// The link's MAC (a libvirt tap has the guest NIC's MAC with first octet 0xfe).
        public var mac: MACAddress?
        /// RTM_DELLINK: the link is gone.
        public var removed: Bool

        public init(index: Int32, name: String?, masterIndex: Int32?, mac: MACAddress?, removed: Bool) {
            self.index = index
            self.name = name
            self.masterIndex = masterIndex
            self.mac = mac
            self.removed = removed
        }

        public var description: String {
            (name ?? "if\(index)") + (removed ? " removed" : " changed") + (masterIndex.map { ", master if\($0)" } ?? "")
        }
    }

    /// What one `read()` found.
    public struct Reading: Sendable {
        public var changes: [Change] = []
        /// The socket's buffer overflowed (ENOBUFS): announcements were lost, so whoever relies on
        /// them must look at everything again.
        public var overflowed = false
    }

    public let namespace: NetworkNamespace
    private let socket: OpaquePointer
    private let logger: Logger

    /// Joins the link announcements of `namespace` (RTNLGRP_LINK, and RTNLGRP_BRVLAN where the
    /// kernel has it). Announcements made after `init` returns are never missed, short of an overflow.
    public init(namespace: NetworkNamespace = .current, logger: Logger) throws(NetlinkError) {
        self.namespace = namespace
        self.logger = logger
        guard let socket = nl_socket_alloc() else {
            throw NetlinkError(.libnl(NLE_NOMEM), operation: "allocate a netlink socket", links: [])
        }
        self.socket = socket
        let file = try NamespaceFile(namespace)
        let status = try file.withEntered { () throws(NetlinkError) -> Int32 in nl_connect(socket, NETLINK_ROUTE) }
        guard status == 0 else {
            nl_socket_free(socket)
            throw NetlinkError(.libnl(-status), operation: "open a netlink socket in \(namespace)", links: [])
        }
        let joined = nl_socket_add_membership(socket, Int32(RTNLGRP_LINK.rawValue))
        guard joined == 0 else {
            nl_socket_free(socket)
            throw NetlinkError(.libnl(-joined), operation: "join the link announcements of \(namespace)", links: [])
        }
        // Bridge VLAN notifications of the newer per-VLAN API (Linux 5.10+); older kernels refuse
        // the group, and announce port VLAN changes on RTNLGRP_LINK anyway.
        if nl_socket_add_membership(socket, Int32(RTNLGRP_BRVLAN.rawValue)) != 0 {
            logger.debug("no RTNLGRP_BRVLAN on this kernel; port VLAN changes come as link announcements")
        }
        // A burst (guests with many NICs starting while watch waits for libvirt, ifreload
        // recreating bridges) must not overflow: 4 MiB, past rmem_max where root may (FORCE).
        var size: Int32 = 4 << 20
        let descriptor = nl_socket_get_fd(socket)
        if setsockopt(descriptor, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        _ = nl_socket_set_nonblocking(socket)
    }

    deinit { nl_socket_free(socket) }

    /// The socket to poll for POLLIN.
    public var fileDescriptor: Int32 { nl_socket_get_fd(socket) }

    /// Every announcement waiting on the socket; returns at once when there is none.
    public func read() throws(NetlinkError) -> Reading {
        let collector = Collector()
        guard let callbacks = nl_cb_alloc(NL_CB_DEFAULT) else {
            throw NetlinkError(.libnl(NLE_NOMEM), operation: "read link announcements", links: [])
        }
        defer { nl_cb_put(callbacks) }
        let argument = Unmanaged.passUnretained(collector).toOpaque()
        nl_cb_set(callbacks, NL_CB_VALID, NL_CB_CUSTOM, Collector.onValid, argument)
        // Announcements carry sequence number 0: libnl's sequence check would refuse them.
        nl_cb_set(callbacks, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, Collector.acceptAnySequence, nil)
        while true {
            let status = nl_recvmsgs(socket, callbacks)
            if status >= 0 { continue }
            switch -status {
            case NLE_AGAIN:
                return collector.reading
            case NLE_NOMEM:
                // libnl's name for ENOBUFS on a receive: the kernel dropped announcements.
                logger.warning("link announcements overflowed the socket buffer; some were lost")
                collector.reading.overflowed = true
            default:
                throw NetlinkError(.libnl(-status), operation: "read link announcements in \(namespace)", links: [])
            }
        }
    }

    private final class Collector {
        var reading = Reading()

        static let acceptAnySequence: nl_recvmsg_msg_cb_t = { _, _ in Int32(NL_OK.rawValue) }

        static let onValid: nl_recvmsg_msg_cb_t = { message, argument in
            let collector = Unmanaged<Collector>.fromOpaque(argument!).takeUnretainedValue()
            if let change = LinkParser.change(nlmsg_hdr(message)) { collector.reading.changes.append(change) }
            return Int32(NL_OK.rawValue)
        }
    }
}
