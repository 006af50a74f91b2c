internal import VLANWire

/// A failed libvirt call: libvirt's own error (code, where it came from, message) plus what
/// vlanwire was doing and to which object, so the text stands on its own in a log or on stderr:
/// `Unable to look up domain 'web9': Domain not found: no domain with matching name 'web9'`.
package struct LibvirtError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libvirt's `virErrorNumber` (`VIR_ERR_*`), plus `libraryUnavailable` for libvirt itself missing.
    package struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        package var rawValue: Int32
        package init(rawValue: Int32) { self.rawValue = rawValue }

        /// Not a libvirt code: libvirt.so.0 could not be loaded, so libvirt could not say anything.
        package static let libraryUnavailable = Code(rawValue: -1)
        /// libvirt failed without setting an error (`VIR_ERR_OK`); should not happen.
        package static let unspecified = Code(rawValue: 0)
        package static let internalError = Code(rawValue: 1)  // VIR_ERR_INTERNAL_ERROR
        package static let noSupport = Code(rawValue: 3)  // VIR_ERR_NO_SUPPORT
        package static let noConnect = Code(rawValue: 5)  // VIR_ERR_NO_CONNECT
        package static let invalidArgument = Code(rawValue: 8)  // VIR_ERR_INVALID_ARG
        package static let operationFailed = Code(rawValue: 9)  // VIR_ERR_OPERATION_FAILED
        package static let xmlError = Code(rawValue: 27)  // VIR_ERR_XML_ERROR
        /// Malformed XML, with libxml2's line and column (`VIR_ERR_XML_DETAIL`).
        package static let xmlDetail = Code(rawValue: 35)
        package static let operationDenied = Code(rawValue: 29)  // VIR_ERR_OPERATION_DENIED
        package static let systemError = Code(rawValue: 38)  // VIR_ERR_SYSTEM_ERROR
        package static let noDomain = Code(rawValue: 42)  // VIR_ERR_NO_DOMAIN
        package static let noNetwork = Code(rawValue: 43)  // VIR_ERR_NO_NETWORK
        package static let authFailed = Code(rawValue: 45)  // VIR_ERR_AUTH_FAILED
        package static let operationInvalid = Code(rawValue: 55)  // VIR_ERR_OPERATION_INVALID
        package static let noDomainMetadata = Code(rawValue: 80)  // VIR_ERR_NO_DOMAIN_METADATA

        package var description: String { String(rawValue) }
    }

    /// The part of libvirt that raised the error: libvirt's `virErrorDomain` (`VIR_FROM_*`; libvirt
    /// calls it the error's *domain*, which has nothing to do with guest domains).
    package struct Origin: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        package var rawValue: Int32
        package init(rawValue: Int32) { self.rawValue = rawValue }

        package static let none = Origin(rawValue: 0)  // VIR_FROM_NONE
        package static let domain = Origin(rawValue: 6)  // VIR_FROM_DOM
        package static let rpc = Origin(rawValue: 7)  // VIR_FROM_RPC
        package static let qemu = Origin(rawValue: 10)  // VIR_FROM_QEMU
        package static let test = Origin(rawValue: 12)  // VIR_FROM_TEST
        package static let remote = Origin(rawValue: 13)  // VIR_FROM_REMOTE
        package static let network = Origin(rawValue: 19)  // VIR_FROM_NETWORK

        package var description: String { String(rawValue) }
    }

    package var code: Code
    package var origin: Origin
    /// libvirt's message, as virsh prints it after `error: `.
    package var message: String
    /// What vlanwire asked libvirt to do, as a verb phrase: `look up domain`, `connect to`.
    package var operation: String
    /// The domain, network or URI the operation was about, when there is one.
    package var object: String?

    package init(code: Code, origin: Origin, message: String, operation: String, object: String?) {
        self.code = code
        self.origin = origin
        self.message = message
        self.operation = operation
        self.object = object
    }

    package var description: String {
        let target = object.map { " '\($0.escapedForDisplay)'" } ?? ""
        return "Unable to \(operation)\(target): \(message)"
    }
}
