import Testing
import VLANWireTestSupport

@testable import VLANWire

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
