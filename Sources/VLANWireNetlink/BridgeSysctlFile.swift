#if canImport(Glibc)
    internal import Glibc
#endif

/// One file under /proc/sys/net/bridge of a namespace. /proc/sys/net shows the namespace of the
/// thread that opens the file, so it is opened inside the namespace and used after leaving it.
final class BridgeSysctlFile {
    private let descriptor: Int32
    private let path: String

    /// nil when the file does not exist (br_netfilter not loaded). `name` must be one of
    /// `BridgeNetfilterSysctls.names` (checked by callers): it becomes part of a path.
    init?(_ name: String, namespace: NamespaceFile, write: Bool) throws(NetlinkError) {
        let path = "/proc/sys/net/bridge/" + name
        let result = try namespace.withEntered { () throws(NetlinkError) -> (Int32, Int32) in
            let fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC)
            return (fd, fd < 0 ? Glibc.errno : 0)
        }
        guard result.0 >= 0 else {
            if result.1 == ENOENT { return nil }
            throw NetlinkError(.errno(result.1), operation: "open \(path) in \(namespace.namespace)", links: [])
        }
        descriptor = result.0
        self.path = path
    }

    deinit { close(descriptor) }

    func readInteger() throws(NetlinkError) -> Int {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else {
            throw NetlinkError(.errno(count < 0 ? Glibc.errno : EIO), operation: "read \(path)", links: [])
        }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self).filter { !$0.isWhitespace }
        guard let value = Int(text) else {
            throw NetlinkError(.errno(EINVAL), operation: "read \(path) (not a number: '\(text)')", links: [])
        }
        return value
    }

    func write(_ value: Int) throws(NetlinkError) {
        let text = Array("\(value)\n".utf8)
        let count = text.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard count == text.count else {
            throw NetlinkError(.errno(count < 0 ? Glibc.errno : EIO), operation: "write \(value) to \(path)", links: [])
        }
    }
}
