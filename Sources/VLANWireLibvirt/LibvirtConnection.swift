internal import CLibvirtShims
internal import Glibc
package import Logging

/// An open connection to libvirt (`virConnectPtr`), closed when the last reference goes.
///
/// Thread safety: libvirt's API is thread-safe, and one `virConnectPtr` may be used from several
/// threads at once; libvirt keeps each thread's last error separately, and every call here reads
/// it synchronously right after the failing call. The class is immutable after `init`, hence
/// `Sendable`. Every call blocks its thread until libvirt answers (an RPC to libvirtd for
/// `qemu:///system`).
///
/// libvirt.so.0 is loaded with dlopen the first time a connection is opened, never before.
package final class LibvirtConnection: @unchecked Sendable {
    /// The URI this connection was opened with (after `resolveURI`).
    package let uri: String
    let logger: Logger
    let api: Functions
    let pointer: OpaquePointer

    /// The URI used when neither a URI nor `LIBVIRT_DEFAULT_URI` is given: the system QEMU driver,
    /// whose guests vlanwire wires.
    package static let fallbackURI = "qemu:///system"

    /// The URI to use: `given` (virsh's `--connect`), else `LIBVIRT_DEFAULT_URI`, else
    /// `qemu:///system`. Empty strings count as not given.
    package static func resolveURI(_ given: String?, libvirtDefaultURI: String?) -> String {
        if let given, !given.isEmpty { return given }
        if let fromEnvironment = libvirtDefaultURI, !fromEnvironment.isEmpty { return fromEnvironment }
        return fallbackURI
    }

    /// Opens a connection, loading libvirt first if needed.
    ///
    /// - Parameters:
    ///   - uri: libvirt URI; nil picks one as virsh does (see `resolveURI`).
    ///   - logger: where connection-level events go (debug level); also used by the domains and
    ///     networks this connection hands out.
    /// - Throws: `LibvirtError` with code `libraryUnavailable` when libvirt is not installed,
    ///   or libvirt's own error (e.g. `systemError`: "Failed to connect socket to
    ///   '/var/run/libvirt/libvirt-sock': No such file or directory" when libvirtd is not running).
    package init(uri: String? = nil, logger: Logger) throws(LibvirtError) {
        let resolved = Self.resolveURI(uri, libvirtDefaultURI: getenv("LIBVIRT_DEFAULT_URI").map { String(cString: $0) })
        let api = try LibvirtLibrary.load()
        guard let pointer = api.table.pointee.virConnectOpen(resolved) else {
            throw api.lastError("connect to", resolved)
        }
        self.uri = resolved
        self.logger = logger
        self.api = api
        self.pointer = pointer
        logger.debug("libvirt connection opened", metadata: ["libvirt.uri": "\(resolved)"])
    }

    deinit {
        // The return value is the number of references libvirt still holds (domains and networks
        // not yet freed keep the connection alive inside libvirt); only -1 is a failure.
        if api.table.pointee.virConnectClose(pointer) < 0 {
            logger.debug("libvirt connection close failed: \(api.lastError("close connection to", uri))")
        } else {
            logger.debug("libvirt connection closed", metadata: ["libvirt.uri": "\(uri)"])
        }
    }

    /// The version of libvirt serving the connection (libvirtd's for `qemu:///system`), e.g.
    /// 9.0.0. libvirt applies a native `<vlan>` on Linux bridges itself from 11.0 on.
    package func libvirtVersion() throws(LibvirtError) -> LibvirtVersion {
        var number: UInt = 0
        guard api.table.pointee.virConnectGetLibVersion(pointer, &number) == 0 else {
            throw api.lastError("get the libvirt version of", uri)
        }
        return LibvirtVersion(encoded: number)
    }

    // MARK: Domains

    /// Which domains `domains(_:)` lists.
    package enum DomainSelection: Sendable {
        /// Every domain: running, paused, and defined but shut off.
        case all
        /// Only domains with a running (or paused) QEMU process.
        case running
    }

    /// The domain called `name`. Throws `noDomain` when there is none.
    package func domain(named name: String) throws(LibvirtError) -> LibvirtDomain {
        guard let domain = api.table.pointee.virDomainLookupByName(pointer, name) else {
            throw api.lastError("look up domain", name)
        }
        return LibvirtDomain(owning: domain, connection: self)
    }

    /// The domain with UUID `uuid` (libvirt's text form, `6695eb01-f6a4-8304-79aa-97f2502e193f`).
    /// Throws `noDomain` when there is none, `invalidArgument` when `uuid` is not a UUID.
    package func domain(uuid: String) throws(LibvirtError) -> LibvirtDomain {
        guard let domain = api.table.pointee.virDomainLookupByUUIDString(pointer, uuid) else {
            throw api.lastError("look up domain with UUID", uuid)
        }
        return LibvirtDomain(owning: domain, connection: self)
    }

    /// The domains `selection` asks for, in libvirt's order.
    package func domains(_ selection: DomainSelection = .all) throws(LibvirtError) -> [LibvirtDomain] {
        let flags: UInt32 =
            switch selection {
            case .all: 0
            case .running: VIR_CONNECT_LIST_DOMAINS_ACTIVE.rawValue
            }
        var list: UnsafeMutablePointer<virDomainPtr?>?
        let count = api.table.pointee.virConnectListAllDomains(pointer, &list, flags)
        guard count >= 0 else { throw api.lastError("list domains of", uri) }
        guard let list else { return [] }
        defer { free(list) }
        return (0..<Int(count)).compactMap { index in
            list[index].map { LibvirtDomain(owning: $0, connection: self) }
        }
    }

    // MARK: Networks

    /// Defines (makes persistent) a network from its `<network>` XML, or replaces the definition
    /// of the network with the same name and UUID. Does not start it.
    package func defineNetwork(xml: String) throws(LibvirtError) -> LibvirtNetwork {
        guard let network = api.table.pointee.virNetworkDefineXML(pointer, xml) else {
            throw api.lastError("define network", nil)
        }
        let defined = LibvirtNetwork(owning: network, connection: self)
        logger.debug("libvirt network defined", metadata: ["libvirt.network": "\(defined.name)"])
        return defined
    }

    /// The network called `name`. Throws `noNetwork` when there is none.
    package func network(named name: String) throws(LibvirtError) -> LibvirtNetwork {
        guard let network = api.table.pointee.virNetworkLookupByName(pointer, name) else {
            throw api.lastError("look up network", name)
        }
        return LibvirtNetwork(owning: network, connection: self)
    }

    /// Every network, active or not, persistent or transient.
    package func networks() throws(LibvirtError) -> [LibvirtNetwork] {
        var list: UnsafeMutablePointer<virNetworkPtr?>?
        let count = api.table.pointee.virConnectListAllNetworks(pointer, &list, 0)
        guard count >= 0 else { throw api.lastError("list networks of", uri) }
        guard let list else { return [] }
        defer { free(list) }
        return (0..<Int(count)).compactMap { index in
            list[index].map { LibvirtNetwork(owning: $0, connection: self) }
        }
    }
}

/// A libvirt version, `major.minor.release` (libvirt encodes it as major * 1,000,000 + minor * 1,000 + release).
package struct LibvirtVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
    package var major: Int
    package var minor: Int
    package var release: Int

    package init(major: Int, minor: Int, release: Int) {
        self.major = major
        self.minor = minor
        self.release = release
    }

    init(encoded: UInt) {
        self.init(major: Int(encoded / 1_000_000), minor: Int(encoded / 1_000 % 1_000), release: Int(encoded % 1_000))
    }

    package static func < (lhs: LibvirtVersion, rhs: LibvirtVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.release) < (rhs.major, rhs.minor, rhs.release)
    }

    package var description: String { "\(major).\(minor).\(release)" }
}
