internal import CNetlink
internal import CNetlinkShims

#if canImport(Glibc)
    internal import Glibc
#endif

/// A libnl message (`struct nl_msg`), freed with the Swift value.
final class NetlinkMessage {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    /// Takes ownership of what a libnl or shim builder returned through `result`.
    init(
        building operation: @autoclosure () -> String, links: [String],
        _ build: (UnsafeMutablePointer<OpaquePointer?>) -> Int32
    ) throws(NetlinkError) {
        var result: OpaquePointer?
        let status = build(&result)
        guard status >= 0, let result else {
            throw NetlinkError(.libnl(status < 0 ? -status : NLE_NOMEM), operation: operation(), links: links)
        }
        pointer = result
    }

    deinit { nlmsg_free(pointer) }

    var header: UnsafeMutablePointer<nlmsghdr> { nlmsg_hdr(pointer) }
}

/// What a failing request was for, so its error can name it.
struct RequestContext {
    var operation: String
    var links: [String]
}

/// The one place vlanwire's netlink traffic passes through: a NETLINK_ROUTE socket bound to one
/// namespace, every request sent and every reply read here. Waits are bounded by SO_RCVTIMEO, so a
/// kernel that does not answer becomes an error (ETIMEDOUT) instead of a hung hook.
final class NetlinkSocket {
    private let socket: OpaquePointer
    /// Set after a timeout: a late answer may still arrive, so this socket must not be reused.
    private(set) var isDesynchronised = false

    init(in namespace: NamespaceFile, timeout: Duration) throws(NetlinkError) {
        guard let socket = nl_socket_alloc() else {
            throw NetlinkError(.libnl(NLE_NOMEM), operation: "allocate a netlink socket", links: [])
        }
        self.socket = socket
        // The socket belongs to the namespace it was created in, whatever the thread does later.
        let status = try namespace.withEntered { () throws(NetlinkError) -> Int32 in nl_connect(socket, NETLINK_ROUTE) }
        guard status == 0 else {
            throw NetlinkError(.libnl(-status), operation: "open a netlink socket in \(namespace.namespace)", links: [])
        }
        let descriptor = nl_socket_get_fd(socket)
        let seconds = timeout.components.seconds
        let microseconds = timeout.components.attoseconds / 1_000_000_000_000
        var interval = timeval(tv_sec: Int(seconds), tv_usec: Int(max(microseconds, seconds == 0 ? 1 : 0)))
        var on: Int32 = 1
        let configured =
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size)) == 0
            // The kernel's own words for refusals ("Unknown device type").
            && setsockopt(descriptor, SOL_NETLINK, NETLINK_EXT_ACK, &on, socklen_t(MemoryLayout<Int32>.size)) == 0
            // Errors need not echo the whole request (a port VLAN message can be 32 KiB).
            && setsockopt(descriptor, SOL_NETLINK, NETLINK_CAP_ACK, &on, socklen_t(MemoryLayout<Int32>.size)) == 0
        guard configured else {
            throw NetlinkError(.errno(Glibc.errno), operation: "configure the netlink socket", links: [])
        }
    }

    deinit { nl_socket_free(socket) }

    /// Sends `message` and waits for the kernel's ACK. Replies that come before it (the answer to
    /// a get request) go to `onReply`.
    func acknowledged(
        _ message: NetlinkMessage, _ context: RequestContext,
        onReply: ((UnsafeMutablePointer<nlmsghdr>) -> Void)? = nil
    ) throws(NetlinkError) {
        nlmsg_hdr(message.pointer).pointee.nlmsg_flags |= UInt16(NLM_F_ACK)
        try exchange(message, context, isDump: false, onReply: onReply ?? { _ in })
    }

    /// Sends `messages` in ONE write, which the kernel handles back to back (microseconds apart),
    /// and reads every ACK; the first refusal is thrown once all are read, so the socket stays in
    /// step. For changes whose intermediate state must last as short as possible.
    func acknowledgedTogether(_ messages: [NetlinkMessage], _ context: RequestContext) throws(NetlinkError) {
        var buffer: [UInt8] = []
        for message in messages {
            let header = nlmsg_hdr(message.pointer)!
            header.pointee.nlmsg_flags |= UInt16(NLM_F_ACK)
            nl_complete_msg(socket, message.pointer)
            let length = Int(header.pointee.nlmsg_len)
            buffer += UnsafeRawBufferPointer(start: header, count: length)
            buffer += [UInt8](repeating: 0, count: (4 - length % 4) % 4)
        }
        let sent = buffer.withUnsafeMutableBytes { nl_sendto(socket, $0.baseAddress, $0.count) }
        guard sent >= 0 else { throw NetlinkError(.libnl(-sent), operation: context.operation, links: context.links) }
        var first: NetlinkError?
        for _ in messages {
            do throws(NetlinkError) {
                try receive(into: Receiver(onReply: { _ in }), isDump: false, context)
            } catch {
                first = first ?? error
                if isDesynchronised { break }
            }
        }
        if let first { throw first }
    }

    /// Sends a dump request and hands every reply to `onReply` until the kernel says it is done.
    func dump(
        _ message: NetlinkMessage, _ context: RequestContext,
        onReply: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) throws(NetlinkError) {
        try exchange(message, context, isDump: true, onReply: onReply)
    }

    private func exchange(
        _ message: NetlinkMessage, _ context: RequestContext, isDump: Bool,
        onReply: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) throws(NetlinkError) {
        let sent = nl_send_auto(socket, message.pointer)
        guard sent >= 0 else {
            throw NetlinkError(.libnl(-sent), operation: context.operation, links: context.links)
        }
        try withoutActuallyEscaping(onReply) { (onReply) throws(NetlinkError) in
            let receiver = Receiver(onReply: onReply)
            try receive(into: receiver, isDump: isDump, context)
        }
    }

    private func receive(into receiver: Receiver, isDump: Bool, _ context: RequestContext) throws(NetlinkError) {
        guard let callbacks = nl_cb_alloc(NL_CB_DEFAULT) else {
            throw NetlinkError(.libnl(NLE_NOMEM), operation: context.operation, links: context.links)
        }
        defer { nl_cb_put(callbacks) }
        let argument = Unmanaged.passUnretained(receiver).toOpaque()
        nl_cb_set(callbacks, NL_CB_VALID, NL_CB_CUSTOM, Receiver.onValid, argument)
        nl_cb_err(callbacks, NL_CB_CUSTOM, Receiver.onError, argument)
        if isDump {
            nl_cb_set(callbacks, NL_CB_FINISH, NL_CB_CUSTOM, Receiver.onDone, argument)
        } else {
            nl_cb_set(callbacks, NL_CB_ACK, NL_CB_CUSTOM, Receiver.onAck, argument)
        }
        // Each nl_recvmsgs call reads one batch; loop until the ACK, the end of the dump or an error.
        while !receiver.finished {
            let status = nl_recvmsgs(socket, callbacks)
            if receiver.kernelErrno != 0 {
                throw NetlinkError(
                    .errno(receiver.kernelErrno), operation: context.operation,
                    links: context.links, kernelMessage: receiver.kernelMessage)
            }
            if status < 0 {
                if -status == NLE_AGAIN {
                    isDesynchronised = true
                    throw NetlinkError(
                        .errno(ETIMEDOUT), operation: context.operation, links: context.links,
                        kernelMessage: "no answer from the kernel")
                }
                throw NetlinkError(.libnl(-status), operation: context.operation, links: context.links)
            }
        }
    }
}

/// Collects what libnl's callbacks report for one request. Passed to C as an unretained pointer
/// that lives for the duration of `receive`.
private final class Receiver {
    let onReply: (UnsafeMutablePointer<nlmsghdr>) -> Void
    var finished = false
    var kernelErrno: Int32 = 0
    var kernelMessage: String?

    init(onReply: @escaping (UnsafeMutablePointer<nlmsghdr>) -> Void) { self.onReply = onReply }

    private static func from(_ argument: UnsafeMutableRawPointer?) -> Receiver {
        Unmanaged<Receiver>.fromOpaque(argument!).takeUnretainedValue()
    }

    static let onValid: nl_recvmsg_msg_cb_t = { message, argument in
        from(argument).onReply(nlmsg_hdr(message))
        return Int32(NL_OK.rawValue)
    }

    static let onAck: nl_recvmsg_msg_cb_t = { _, argument in
        from(argument).finished = true
        return Int32(NL_STOP.rawValue)
    }

    /// NLMSG_DONE carries an errno when a dump failed part way (libnl 3.7 does not look).
    static let onDone: nl_recvmsg_msg_cb_t = { message, argument in
        let receiver = from(argument)
        receiver.finished = true
        let header = nlmsg_hdr(message)!
        if nlmsg_datalen(header) >= Int32(MemoryLayout<Int32>.size) {
            let status = nlmsg_data(header).loadUnaligned(as: Int32.self)
            if status < 0 { receiver.kernelErrno = -status }
        }
        return Int32(NL_STOP.rawValue)
    }

    static let onError: nl_recvmsg_err_cb_t = { _, error, argument in
        let receiver = from(argument)
        receiver.finished = true
        if let error {
            receiver.kernelErrno = -error.pointee.error
            receiver.kernelMessage = cnetlink_extack_message(error).map { String(cString: $0) }
        }
        return Int32(NL_STOP.rawValue)
    }
}
