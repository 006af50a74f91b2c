internal import VLANWire

/// A failed libvirt call: libvirt's own error (code, where it came from, message) plus what
/// vlanwire was doing and to which object, so the text stands on its own in a log or on stderr:
/// `Unable to look up domain 'web9': Domain not found: no domain with matching name 'web9'`.
public struct LibvirtError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libvirt's `virErrorNumber` (`VIR_ERR_*`), plus `libraryUnavailable` for libvirt itself missing.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// Not a libvirt code: libvirt.so.0 could not be loaded, so libvirt could not say anything.
        public static let libraryUnavailable = Code(rawValue: -1)
        /// libvirt failed without setting an error (`VIR_ERR_OK`); should not happen.
        public static let unspecified = Code(rawValue: 0)
        public static let internalError = Code(rawValue: 1)        // VIR_ERR_INTERNAL_ERROR
        public static let noSupport = Code(rawValue: 3)            // VIR_ERR_NO_SUPPORT
        public static let noConnect = Code(rawValue: 5)            // VIR_ERR_NO_CONNECT
        public static let invalidArgument = Code(rawValue: 8)      // VIR_ERR_INVALID_ARG
        public static let operationFailed = Code(rawValue: 9)      // VIR_ERR_OPERATION_FAILED
        public static let xmlError = Code(rawValue: 27)            // VIR_ERR_XML_ERROR
        /// Malformed XML, with libxml2's line and column (`VIR_ERR_XML_DETAIL`).
        public static let xmlDetail = Code(rawValue: 35)
        public static let operationDenied = Code(rawValue: 29)     // VIR_ERR_OPERATION_DENIED
        public static let systemError = Code(rawValue: 38)         // VIR_ERR_SYSTEM_ERROR
        public static let noDomain = Code(rawValue: 42)            // VIR_ERR_NO_DOMAIN
        public static let noNetwork = Code(rawValue: 43)           // VIR_ERR_NO_NETWORK
        public static let authFailed = Code(rawValue: 45)          // VIR_ERR_AUTH_FAILED
        public static let operationInvalid = Code(rawValue: 55)    // VIR_ERR_OPERATION_INVALID
        public static let noDomainMetadata = Code(rawValue: 80)    // VIR_ERR_NO_DOMAIN_METADATA

        public var description: String { String(rawValue) }
    }

    /// The part of libvirt that raised the error: libvirt's `virErrorDomain` (`VIR_FROM_*`; libvirt
    /// calls it the error's *domain*, which has nothing to do with guest domains).
    public struct Origin: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let none = Origin(rawValue: 0)        // VIR_FROM_NONE
        public static let domain = Origin(rawValue: 6)      // VIR_FROM_DOM
        public static let rpc = Origin(rawValue: 7)         // VIR_FROM_RPC
        public static let qemu = Origin(rawValue: 10)       // VIR_FROM_QEMU
        public static let test = Origin(rawValue: 12)       // VIR_FROM_TEST
        public static let remote = Origin(rawValue: 13)     // VIR_FROM_REMOTE
        public static let network = Origin(rawValue: 19)    // VIR_FROM_NETWORK

        public var description: String { String(rawValue) }
    }

    public var code: Code
    public var origin: Origin
    /// libvirt's message, as virsh prints it after `error: `.
    public var message: String
    /// What vlanwire asked libvirt to do, as a verb phrase: `look up domain`, `connect to`.
    public var operation: String
    /// The domain, network or URI the operation was about, when there is one.
    public var object: String?

    public init(code: Code, origin: Origin, message: String, operation: String, object: String?) {
        self.code = code
        self.origin = origin
        self.message = message
        self.operation = operation
        self.object = object
    }

    public var description: String {
        let target = object.map { " '\($0.escapedForDisplay)'" } ?? ""
        return "Unable to \(operation)\(target): \(message)"
    }
}
