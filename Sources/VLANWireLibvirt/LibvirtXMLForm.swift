/// Which XML description of a domain or network to read.
package enum LibvirtXMLForm: Sendable {
    /// What is in effect now: the running state for an active object, else the persistent
    /// definition (`virsh dumpxml`).
    case current
    /// The persistent definition, as it will be on the next start (`virsh dumpxml --inactive`;
    /// `VIR_DOMAIN_XML_INACTIVE`, `VIR_NETWORK_XML_INACTIVE`).
    case inactive
}
