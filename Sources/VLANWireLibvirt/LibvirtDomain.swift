internal import CLibvirtShims
internal import Glibc
internal import Logging

/// A libvirt domain (guest), as looked up or listed through a `LibvirtConnection`.
///
/// Owns one `virDomainPtr` reference, freed when this object goes; keeps its connection alive.
/// Immutable, and libvirt's domain calls are thread-safe: `Sendable` (see `LibvirtConnection`).
package final class LibvirtDomain: @unchecked Sendable {
    package let connection: LibvirtConnection
    /// The name the domain had when it was looked up.
    package let name: String
    /// libvirt's text form: `6695eb01-f6a4-8304-79aa-97f2502e193f`.
    package let uuid: String
    let pointer: OpaquePointer

    /// Which definition a metadata call reads or changes (libvirt's `virDomainModificationImpact`).
    package struct Scope: OptionSet, Hashable, Sendable {
        package let rawValue: UInt32
        package init(rawValue: UInt32) { self.rawValue = rawValue }

        /// The running domain (`VIR_DOMAIN_AFFECT_LIVE`); libvirt refuses it for a domain that is
        /// not running (`operationInvalid`).
        package static let live = Scope(rawValue: VIR_DOMAIN_AFFECT_LIVE.rawValue)
        /// The persistent definition, used from the next start on (`VIR_DOMAIN_AFFECT_CONFIG`).
        package static let config = Scope(rawValue: VIR_DOMAIN_AFFECT_CONFIG.rawValue)
        /// `live` for a running domain, else `config` (`VIR_DOMAIN_AFFECT_CURRENT`).
        package static let current: Scope = []
    }

    init(owning pointer: OpaquePointer, connection: LibvirtConnection) {
        let table = connection.api.table.pointee
        (name, uuid) = connection.api.identity(
            of: pointer, kind: "domain", name: table.virDomainGetName, uuid: table.virDomainGetUUIDString)
        self.connection = connection
        self.pointer = pointer
    }

    deinit {
        _ = connection.api.table.pointee.virDomainFree(pointer)
    }

    private var api: Functions { connection.api }

    /// Whether the domain has a running (or paused) QEMU process.
    package func isActive() throws(LibvirtError) -> Bool {
        let answer = api.table.pointee.virDomainIsActive(pointer)
        guard answer >= 0 else { throw api.lastError("get the state of domain", name) }
        return answer == 1
    }

    /// The domain's XML description (`virsh dumpxml [--inactive]`).
    package func xml(_ form: LibvirtXMLForm = .current) throws(LibvirtError) -> String {
        let flags: UInt32 =
            switch form {
            case .current: 0
            case .inactive: VIR_DOMAIN_XML_INACTIVE.rawValue
            }
        guard let text = api.table.pointee.virDomainGetXMLDesc(pointer, flags) else {
            throw api.lastError("get the XML of domain", name)
        }
        return String(takingLibvirtString: text)
    }

    /// The domain's metadata element in `namespace`, or nil when it has none.
    ///
    /// What libvirt returns (verified on libvirt 9.0, qemu and test drivers): the element alone,
    /// with NO namespace prefix and no `xmlns` declaration, re-indented by two spaces per level,
    /// attributes in double quotes, no trailing newline — for a domain whose XML holds
    /// `<vw:vlans xmlns:vw="urn:vlanwire:1"><vw:interface mac="…">…` it returns
    /// `<vlans>\n  <interface mac="…">…`. This is what
    /// `virsh metadata DOMAIN --uri urn:vlanwire:1` prints.
    ///
    /// - Parameter scope: `.current`, `.live` or `.config`; not both (libvirt: `invalidArgument`).
    package func metadata(
        _ namespace: MetadataNamespace = .vlanwire, scope: Scope = .current
    )
        throws(LibvirtError) -> String?
    {
        let type = Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue)
        guard let text = api.table.pointee.virDomainGetMetadata(pointer, type, namespace.uri, scope.rawValue) else {
            let error = api.lastError("get the \(namespace.uri) metadata of domain", name)
            if error.code == .noDomainMetadata { return nil }
            throw error
        }
        return String(takingLibvirtString: text)
    }

    /// Sets (replaces) or, with nil, removes the domain's metadata element in `namespace`.
    ///
    /// Give the element WITHOUT a namespace prefix, e.g. `<vlans><interface mac="…">…</vlans>`:
    /// libvirt puts it and every descendant without a namespace into `namespace.uri`, written with
    /// `namespace.prefix` (`<vw:vlans xmlns:vw="urn:vlanwire:1"><vw:interface …>`). libvirt 9.0
    /// refuses an element that already declares `xmlns:vw` ("internal error: failed to create a new
    /// XML namespace"), the form the domain XML shows; `virsh metadata --set` behaves the same.
    ///
    /// - Parameter scope: `.config` (persistent), `.live` (running domain only), both, or
    ///   `.current` (live when running, else config).
    package func setMetadata(
        _ element: String?, in namespace: MetadataNamespace = .vlanwire,
        scope: Scope = .current
    ) throws(LibvirtError) {
        let type = Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue)
        let status = api.table.pointee.virDomainSetMetadata(
            pointer, type, element, namespace.prefix, namespace.uri,
            scope.rawValue)
        guard status == 0 else {
            let verb = element == nil ? "remove" : "set"
            throw api.lastError("\(verb) the \(namespace.uri) metadata of domain", name)
        }
        connection.logger.debug(
            element == nil ? "libvirt domain metadata removed" : "libvirt domain metadata set",
            metadata: ["libvirt.domain": "\(name)", "libvirt.metadata.uri": "\(namespace.uri)"])
    }
}

extension String {
    /// Copies a string libvirt allocated for the caller, then frees it (libvirt's contract: free()).
    init(takingLibvirtString text: UnsafeMutablePointer<CChar>) {
        self.init(cString: text)
        free(text)
    }
}
