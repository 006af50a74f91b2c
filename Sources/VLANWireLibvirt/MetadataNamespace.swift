/// An XML namespace for an application's element in a domain's `<metadata>`: libvirt keeps at
/// most one element per namespace URI, and writes it with `prefix` (libvirt's *key*).
public struct MetadataNamespace: Hashable, Sendable {
    public var uri: String
    public var prefix: String

    public init(uri: String, prefix: String) {
        self.uri = uri
        self.prefix = prefix
    }

    /// vlanwire's own: `<vw:vlans xmlns:vw="urn:vlanwire:1">` in the domain XML.
    public static let vlanwire = MetadataNamespace(uri: "urn:vlanwire:1", prefix: "vw")
}
