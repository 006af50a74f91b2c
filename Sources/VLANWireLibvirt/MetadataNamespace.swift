/// An XML namespace for an application's element in a domain's `<metadata>`: libvirt keeps at
/// most one element per namespace URI, and writes it with `prefix` (libvirt's *key*).
package struct MetadataNamespace: Hashable, Sendable {
    package var uri: String
    package var prefix: String

    package init(uri: String, prefix: String) {
        self.uri = uri
        self.prefix = prefix
    }

    /// vlanwire's own: `<vw:vlans xmlns:vw="urn:vlanwire:1">` in the domain XML.
    package static let vlanwire = MetadataNamespace(uri: "urn:vlanwire:1", prefix: "vw")
}
