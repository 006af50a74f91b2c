internal import CNetlinkShims

#if canImport(Glibc)
    internal import Glibc
#endif

/// The network namespace a `NetlinkHandle` works in: the caller's own, or one named by
/// `ip netns add NAME` (the file `/run/netns/NAME`).
public enum NetworkNamespace: Hashable, Sendable, CustomStringConvertible {
    /// The namespace of the thread that opens the handle; nothing is entered.
    case current
    /// `/run/netns/NAME`; build with `named(_:)`, which checks the name.
    case named(NamespaceName)

    /// The namespace `ip netns` calls `name`. Refuses names that are not plain words.
    public static func named(_ name: String) throws(NetlinkError) -> NetworkNamespace {
        .named(try NamespaceName(name))
    }

    public var description: String {
        switch self {
        case .current: "current network namespace"
        case .named(let name): "network namespace \(name)"
        }
    }
}

/// A network namespace name that is safe to put in a path: letters, digits, `.`, `-`, `_`,
/// 1...64 bytes, not `.` or `..` (the same alphabet as `LinkName`).
public struct NamespaceName: Hashable, Sendable, CustomStringConvertible {
    public static let maximumLength = 64
    public let rawValue: String

    public init(_ name: String) throws(NetlinkError) {
        let allowed = name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default: false
            }
        }
        guard allowed, (1...Self.maximumLength).contains(name.utf8.count), name != ".", name != ".." else {
            throw NetlinkError(
                .errno(EINVAL), operation: "use network namespace '\(name)' (allowed: 1-\(Self.maximumLength) letters, digits, '.', '-', '_')",
                links: [])
        }
        rawValue = name
    }

    /// `/run/netns/NAME`, where `ip netns add` bind-mounts the namespace.
    public var path: String { "/run/netns/" + rawValue }
    public var description: String { rawValue }
}

/// An open namespace file (`/run/netns/NAME`), kept open for the handle's life so the handle keeps
/// working in the same namespace even if the name is deleted or reused meanwhile.
final class NamespaceFile {
    let namespace: NetworkNamespace
    private let descriptor: Int32?

    init(_ namespace: NetworkNamespace) throws(NetlinkError) {
        self.namespace = namespace
        switch namespace {
        case .current:
            descriptor = nil
        case .named(let name):
            let fd = open(name.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw NetlinkError(.errno(Glibc.errno), operation: "open \(name.path)", links: [])
            }
            descriptor = fd
        }
    }

    deinit {
        if let descriptor { close(descriptor) }
    }

    /// Runs `body` with the calling thread inside the namespace, then puts the thread back.
    /// Only this thread moves (setns affects the caller alone), and only for the duration of
    /// `body`, which must not suspend: sockets and /proc/sys files opened inside stay bound to
    /// the namespace after the thread has left it.
    func withEntered<Result>(_ body: () throws(NetlinkError) -> Result) throws(NetlinkError) -> Result {
        guard let descriptor else { return try body() }
        let home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else {
            throw NetlinkError(.errno(Glibc.errno), operation: "open /proc/thread-self/ns/net", links: [])
        }
        defer { close(home) }
        guard cnetlink_enter_network_namespace(descriptor) == 0 else {
            throw NetlinkError(.errno(Glibc.errno), operation: "enter \(namespace)", links: [])
        }
        defer {
            // A thread left in the wrong namespace would send later work of this process to the
            // wrong place (possibly the host's own network): stop rather than go on.
            if cnetlink_enter_network_namespace(home) != 0 {
                fatalError("vlanwire: cannot return the thread from \(namespace) (errno \(Glibc.errno))")
            }
        }
        return try body()
    }
}
