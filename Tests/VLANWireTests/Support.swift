import Testing
@testable import VLANWire

#if canImport(Glibc)
import Glibc
#endif

/// Paths inside the repository, found from this file (tests do not depend on the working directory).
enum Repo {
    static let root: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    static func path(_ relative: String) -> String { root + "/" + relative }

    static func read(_ relative: String) throws -> [UInt8] {
        try FileAccess.read(path(relative), limit: 64 << 20)
    }

    static func text(_ relative: String) throws -> String {
        String(decoding: try read(relative), as: UTF8.self)
    }

    /// Files in a repository directory with the given suffix, sorted.
    static func files(in relative: String, suffix: String) -> [String] {
        guard let directory = opendir(path(relative)) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(suffix) { names.append(relative + "/" + name) }
        }
        return names.sorted()
    }
}

func vid(_ value: Int) -> VLANID { try! VLANID(value) }
func vset(_ text: String) -> VLANSet { try! VLANSet(parsing: text) }
func link(_ text: String) -> LinkName { try! LinkName(text) }
func mac(_ text: String) -> MACAddress { try! MACAddress(parsing: text) }

func domain(_ xml: String, hint: String? = nil) throws(Refusal) -> DomainDescription {
    try DomainDescription(xml: Array(xml.utf8), guestHint: hint)
}

/// A minimal domain with bridge NICs and optional vlanwire metadata.
func domainXML(name: String = "g1", nics: [(mac: String, bridge: String, tap: String?)], metadata: String = "") -> String {
    let interfaces = nics.map { nic in
        "<interface type='bridge'><mac address='\(nic.mac)'/><source bridge='\(nic.bridge)'/>"
            + (nic.tap.map { "<target dev='\($0)'/>" } ?? "") + "<model type='virtio'/></interface>"
    }.joined(separator: "\n")
    let meta = metadata.isEmpty ? "" : "<metadata><vw:vlans xmlns:vw='urn:vlanwire:1'>\(metadata)</vw:vlans></metadata>"
    return "<domain type='kvm'><name>\(name)</name>\(meta)<devices>\(interfaces)</devices></domain>"
}
