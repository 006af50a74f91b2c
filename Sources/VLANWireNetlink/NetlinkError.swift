internal import CNetlink
import VLANWire

#if canImport(Glibc)
    internal import Glibc
#endif

/// A netlink (or namespace, or sysctl file) operation that failed: what was attempted, on which
/// links, and the code the kernel or libnl gave. Prints like
/// `Unable to enslave vnet3 to br0v5: No such device`.
public struct NetlinkError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// An errno from the kernel (the netlink error ACK) or a system call.
        case errno(Int32)
        /// A libnl error (`NLE_*`) that has no kernel errno behind it (message too big, parse error).
        case libnl(Int32)
    }

    public var code: Code
    /// What was attempted, with the link names: `enslave vnet3 to br0v5`.
    public var operation: String
    /// The links the operation touched (for callers that map errors back to NICs).
    public var links: [String]
    /// The kernel's own explanation (netlink extended ACK), e.g. `Unknown device type`.
    public var kernelMessage: String?

    public init(_ code: Code, operation: String, links: [String], kernelMessage: String? = nil) {
        self.code = code
        self.operation = operation
        self.links = links
        self.kernelMessage = kernelMessage
    }

    /// The errno behind the error, if there is one.
    public var errno: Int32? {
        if case .errno(let value) = code { return value }
        return nil
    }

    /// libnl's NLE_DUMP_INTR: the kernel flagged the dump inconsistent (NLM_F_DUMP_INTR).
    public var isDumpInterrupted: Bool { code == .libnl(NLE_DUMP_INTR) }

    /// `strerror` for errnos, `nl_geterror` for libnl codes.
    public var message: String {
        switch code {
        case .errno(let value): String(cString: strerror(value))
        case .libnl(let value): String(cString: nl_geterror(value))
        }
    }

    public var description: String {
        var text = "Unable to \(operation.escapedForDisplay): \(message)"
        if let kernelMessage, !kernelMessage.isEmpty, kernelMessage != message {
            text += " (kernel: \(kernelMessage.escapedForDisplay))"
        }
        return text
    }
}
