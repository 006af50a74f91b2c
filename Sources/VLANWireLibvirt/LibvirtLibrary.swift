internal import CLibvirtShims

/// libvirt, loaded with dlopen on first use (see CLibvirtShims for why it is never linked).
enum LibvirtLibrary {
    /// The outcome of the one load attempt. A global `let` is initialised once, thread-safely,
    /// on first access: commands that never touch libvirt never load it.
    private static let loaded: Result<Functions, LibvirtError> = {
        let capacity = 256
        var reason = [CChar](repeating: 0, count: capacity)
        guard clibvirt_load(&reason, capacity) == 0 else {
            let message = reason.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return .failure(
                LibvirtError(
                    code: .libraryUnavailable, origin: .none, message: message,
                    operation: "load libvirt", object: nil))
        }
        return .success(Functions(table: clibvirt_table()))
    }()

    /// libvirt's entry points; throws `LibvirtError` with code `libraryUnavailable` when libvirt.so.0
    /// is missing or lacks a function.
    static func load() throws(LibvirtError) -> Functions {
        try loaded.get()
    }
}

/// The loaded function table.
///
/// `@unchecked Sendable`: the table is written once by `clibvirt_load` before the global `let`
/// that publishes it is initialised, and only read afterwards.
struct Functions: @unchecked Sendable {
    let table: UnsafePointer<clibvirt_functions>

    /// The calling thread's last libvirt error, as a `LibvirtError` about `operation` on `object`.
    /// libvirt keeps the last error per thread: call this right after the failing call, with no
    /// suspension point in between, so it is still on the same thread.
    func lastError(_ operation: String, _ object: String?) -> LibvirtError {
        guard let error = table.pointee.virGetLastError() else {
            return LibvirtError(
                code: .unspecified, origin: .none, message: "libvirt failed without saying why",
                operation: operation, object: object)
        }
        let message = error.pointee.message.map { String(cString: $0) } ?? "no message"
        return LibvirtError(
            code: .init(rawValue: error.pointee.code), origin: .init(rawValue: error.pointee.domain),
            message: message, operation: operation, object: object)
    }

    /// The name and UUID (`dd8fe884-6c02-601e-7551-cca97df1c5df`) of an object libvirt just handed
    /// out. Both getters only fail for an invalid pointer, and such a pointer is valid.
    func identity(
        of pointer: OpaquePointer, kind: String, name getName: (OpaquePointer?) -> UnsafePointer<CChar>?,
        uuid getUUID: (OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int32
    ) -> (name: String, uuid: String) {
        guard let name = getName(pointer) else { preconditionFailure("libvirt \(kind) without a name") }
        var uuid = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        precondition(getUUID(pointer, &uuid) == 0, "libvirt \(kind) without a UUID")
        return (String(cString: name), uuid.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }
}
