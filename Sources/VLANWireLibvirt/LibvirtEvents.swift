internal import CLibvirtShims
internal import Glibc

/// libvirt's default event loop (`virEventRegisterDefaultImpl`), run on a thread of its own. It
/// delivers domain events and connection-close notices and sends keepalives. Start it before
/// opening the connection whose events are wanted: libvirt binds a connection to the event loop
/// registered when it was opened.
package enum LibvirtEventLoop {
    private static let started: Result<Void, LibvirtError> = {
        let api: Functions
        do throws(LibvirtError) { api = try LibvirtLibrary.load() } catch { return .failure(error) }
        guard api.table.pointee.virEventRegisterDefaultImpl() == 0 else {
            return .failure(api.lastError("register libvirt's event loop", nil))
        }
        var thread = pthread_t()
        let status = pthread_create(
            &thread, nil,
            { _ in
                // libvirt's table is loaded once the loop is registered; each pass waits in poll().
                let table = clibvirt_table()
                while true { _ = table.pointee.virEventRunDefaultImpl() }
            }, nil)
        guard status == 0 else {
            return .failure(
                LibvirtError(
                    code: .unspecified, origin: .none, message: String(cString: strerror(status)),
                    operation: "start libvirt's event thread", object: nil))
        }
        pthread_detach(thread)
        return .success(())
    }()

    /// Registers the loop and starts its thread, once per process; later calls return at once.
    package static func start() throws(LibvirtError) {
        try started.get()
    }
}

/// A domain event, as `vlanwire watch` needs it.
package struct DomainEvent: Equatable, Sendable, CustomStringConvertible {
    package enum Kind: Equatable, Sendable {
        /// virDomainEventType: the guest started, stopped, was resumed, ...
        case lifecycle(Lifecycle)
        /// A device was hot-plugged (`virsh attach-interface`, `attach-device --live`): its alias (net1).
        case deviceAdded(alias: String)
        case deviceRemoved(alias: String)
        /// The guest's metadata changed (`virsh metadata --live --set`): the element's namespace URI
        /// (nil for the description or title).
        case metadataChanged(namespace: String?)
    }

    package enum Lifecycle: String, Equatable, Sendable {
        case defined, undefined, started, suspended, resumed, stopped, shutdown, pmsuspended, crashed, unknown

        init(_ type: Int32) {
            switch UInt32(bitPattern: type) {
            case VIR_DOMAIN_EVENT_DEFINED.rawValue: self = .defined
            case VIR_DOMAIN_EVENT_UNDEFINED.rawValue: self = .undefined
            case VIR_DOMAIN_EVENT_STARTED.rawValue: self = .started
            case VIR_DOMAIN_EVENT_SUSPENDED.rawValue: self = .suspended
            case VIR_DOMAIN_EVENT_RESUMED.rawValue: self = .resumed
            case VIR_DOMAIN_EVENT_STOPPED.rawValue: self = .stopped
            case VIR_DOMAIN_EVENT_SHUTDOWN.rawValue: self = .shutdown
            case VIR_DOMAIN_EVENT_PMSUSPENDED.rawValue: self = .pmsuspended
            case VIR_DOMAIN_EVENT_CRASHED.rawValue: self = .crashed
            default: self = .unknown
            }
        }
    }

    package var guest: String
    package var uuid: String?
    package var kind: Kind

    package init(guest: String, uuid: String?, kind: Kind) {
        self.guest = guest
        self.uuid = uuid
        self.kind = kind
    }

    package var description: String {
        let what =
            switch kind {
            case .lifecycle(let lifecycle): lifecycle.rawValue
            case .deviceAdded(let alias): "device \(alias) added"
            case .deviceRemoved(let alias): "device \(alias) removed"
            case .metadataChanged(let namespace): "metadata \(namespace ?? "description/title") changed"
            }
        return "\(guest): \(what)"
    }
}

/// Domain events flowing to a handler until `cancel()` (or the connection's end).
package final class DomainEventSubscription: @unchecked Sendable {
    private let connection: LibvirtConnection
    private var ids: [Int32]

    fileprivate init(connection: LibvirtConnection, ids: [Int32]) {
        self.connection = connection
        self.ids = ids
    }

    /// Deregisters the callbacks. Not thread-safe: call from one thread.
    package func cancel() {
        for id in ids { _ = connection.api.table.pointee.virConnectDomainEventDeregisterAny(connection.pointer, id) }
        ids = []
    }

    deinit { cancel() }
}

/// The handler, passed to C as a retained pointer that libvirt releases through `release`.
private final class EventHandler {
    let onEvent: @Sendable (DomainEvent) -> Void
    let api: Functions

    init(_ onEvent: @escaping @Sendable (DomainEvent) -> Void, api: Functions) {
        self.onEvent = onEvent
        self.api = api
    }

    static let sink: clibvirt_domain_event_sink = { event, domain, detail, text, opaque in
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque!).takeUnretainedValue()
        let name = handler.api.table.pointee.virDomainGetName(domain).map { String(cString: $0) } ?? "unknown"
        var uuidBuffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        let uuid =
            handler.api.table.pointee.virDomainGetUUIDString(domain, &uuidBuffer) == 0
            ? uuidBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : nil
        let string = text.map { String(cString: $0) }
        let kind: DomainEvent.Kind? =
            switch UInt32(event) {
            case CLIBVIRT_EVENT_LIFECYCLE.rawValue: .lifecycle(DomainEvent.Lifecycle(detail))
            case CLIBVIRT_EVENT_DEVICE_ADDED.rawValue: .deviceAdded(alias: string ?? "")
            case CLIBVIRT_EVENT_DEVICE_REMOVED.rawValue: .deviceRemoved(alias: string ?? "")
            case CLIBVIRT_EVENT_METADATA_CHANGE.rawValue:
                .metadataChanged(namespace: UInt32(bitPattern: detail) == VIR_DOMAIN_METADATA_ELEMENT.rawValue ? string : nil)
            default: nil
            }
        if let kind { handler.onEvent(DomainEvent(guest: name, uuid: uuid, kind: kind)) }
    }

    static let release: @convention(c) (UnsafeMutableRawPointer?) -> Void = { opaque in
        Unmanaged<EventHandler>.fromOpaque(opaque!).release()
    }
}

/// The close handler, retained by libvirt until it calls `release`.
private final class CloseHandler {
    let onClose: @Sendable (String) -> Void
    init(_ onClose: @escaping @Sendable (String) -> Void) { self.onClose = onClose }

    static let callback: virConnectCloseFunc = { _, reason, opaque in
        let why =
            switch UInt32(bitPattern: reason) {
            case VIR_CONNECT_CLOSE_REASON_ERROR.rawValue: "an error on the connection"
            case VIR_CONNECT_CLOSE_REASON_EOF.rawValue: "libvirtd closed the connection"
            case VIR_CONNECT_CLOSE_REASON_KEEPALIVE.rawValue: "libvirtd stopped answering keepalives"
            case VIR_CONNECT_CLOSE_REASON_CLIENT.rawValue: "closed by vlanwire"
            default: "reason \(reason)"
            }
        Unmanaged<CloseHandler>.fromOpaque(opaque!).takeUnretainedValue().onClose(why)
    }

    static let release: virFreeCallback = { opaque in
        Unmanaged<CloseHandler>.fromOpaque(opaque!).release()
    }
}

extension LibvirtConnection {
    /// Calls `handler` on libvirt's event thread for every lifecycle, device-added,
    /// device-removed and metadata-change event of any domain. Needs `LibvirtEventLoop.start()`
    /// before this connection was opened.
    package func subscribeToDomainEvents(
        _ handler: @escaping @Sendable (DomainEvent) -> Void
    ) throws(LibvirtError)
        -> DomainEventSubscription
    {
        let opaque = Unmanaged.passRetained(EventHandler(handler, api: api)).toOpaque()
        var ids = [Int32](repeating: -1, count: Int(CLIBVIRT_EVENT_COUNT.rawValue))
        let status = ids.withUnsafeMutableBufferPointer {
            clibvirt_watch_domain_events(pointer, EventHandler.sink, EventHandler.release, opaque, $0.baseAddress!)
        }
        guard status == 0 else { throw api.lastError("subscribe to the domain events of", uri) }
        return DomainEventSubscription(connection: self, ids: ids)
    }

    /// Calls `handler` (on libvirt's event thread, with the reason) when the connection closes:
    /// libvirtd stopped or restarted, or stopped answering keepalives.
    package func whenClosed(_ handler: @escaping @Sendable (String) -> Void) throws(LibvirtError) {
        let opaque = Unmanaged.passRetained(CloseHandler(handler)).toOpaque()
        guard api.table.pointee.virConnectRegisterCloseCallback(pointer, CloseHandler.callback, opaque, CloseHandler.release) == 0 else {
            Unmanaged<CloseHandler>.fromOpaque(opaque).release()
            throw api.lastError("watch the connection to", uri)
        }
    }

    /// Sends a keepalive every `interval` seconds; after `count` unanswered ones libvirt closes
    /// the connection (and `whenClosed` fires). Needs the event loop.
    package func keepAlive(interval: Int32, count: UInt32) throws(LibvirtError) {
        guard api.table.pointee.virConnectSetKeepAlive(pointer, interval, count) >= 0 else {
            throw api.lastError("set keepalive on", uri)
        }
    }
}
