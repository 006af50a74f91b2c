internal import CLibvirtShims
internal import Logging

/// A libvirt virtual network (`virsh net-*`), as defined, looked up or listed through a
/// `LibvirtConnection`.
///
/// Owns one `virNetworkPtr` reference, freed when this object goes; keeps its connection alive.
/// Immutable, and libvirt's network calls are thread-safe: `Sendable` (see `LibvirtConnection`).
package final class LibvirtNetwork: @unchecked Sendable {
    package let connection: LibvirtConnection
    package let name: String
    /// libvirt's text form: `dd8fe884-6c02-601e-7551-cca97df1c5df`.
    package let uuid: String
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer, connection: LibvirtConnection) {
        let table = connection.api.table.pointee
        (name, uuid) = connection.api.identity(
            of: pointer, kind: "network", name: table.virNetworkGetName, uuid: table.virNetworkGetUUIDString)
        self.connection = connection
        self.pointer = pointer
    }

    deinit {
        _ = connection.api.table.pointee.virNetworkFree(pointer)
    }

    private var api: Functions { connection.api }

    /// Whether the network is started (`virsh net-list`'s State column).
    package func isActive() throws(LibvirtError) -> Bool {
        let answer = api.table.pointee.virNetworkIsActive(pointer)
        guard answer >= 0 else { throw api.lastError("get the state of network", name) }
        return answer == 1
    }

    /// Whether the network has a persistent definition (`virsh net-list`'s Persistent column); a
    /// transient network (`virsh net-create`) disappears when stopped.
    package func isPersistent() throws(LibvirtError) -> Bool {
        let answer = api.table.pointee.virNetworkIsPersistent(pointer)
        guard answer >= 0 else { throw api.lastError("get the persistence of network", name) }
        return answer == 1
    }

    /// The network's XML description (`virsh net-dumpxml [--inactive]`).
    package func xml(_ form: LibvirtXMLForm = .current) throws(LibvirtError) -> String {
        let flags: UInt32 =
            switch form {
            case .current: 0
            case .inactive: VIR_NETWORK_XML_INACTIVE.rawValue
            }
        guard let text = api.table.pointee.virNetworkGetXMLDesc(pointer, flags) else {
            throw api.lastError("get the XML of network", name)
        }
        return String(takingLibvirtString: text)
    }

    /// Starts the network (`virsh net-start`; `virNetworkCreate`). For a `<forward mode='bridge'>`
    /// network this creates nothing on the host; other modes make libvirt create a bridge.
    package func start() throws(LibvirtError) {
        guard api.table.pointee.virNetworkCreate(pointer) == 0 else { throw api.lastError("start network", name) }
        connection.logger.debug("libvirt network started", metadata: ["libvirt.network": "\(name)"])
    }

    /// Stops the network, keeping its definition (`virsh net-destroy`; `virNetworkDestroy`).
    package func stop() throws(LibvirtError) {
        guard api.table.pointee.virNetworkDestroy(pointer) == 0 else { throw api.lastError("stop network", name) }
        connection.logger.debug("libvirt network stopped", metadata: ["libvirt.network": "\(name)"])
    }

    /// Removes the network's persistent definition (`virsh net-undefine`). A running network keeps
    /// running, as a transient one, until stopped.
    package func undefine() throws(LibvirtError) {
        guard api.table.pointee.virNetworkUndefine(pointer) == 0 else {
            throw api.lastError("undefine network", name)
        }
        connection.logger.debug("libvirt network undefined", metadata: ["libvirt.network": "\(name)"])
    }

    /// Whether libvirtd starts the network when it starts (`virsh net-autostart`).
    package func autostart() throws(LibvirtError) -> Bool {
        var enabled: Int32 = 0
        guard api.table.pointee.virNetworkGetAutostart(pointer, &enabled) == 0 else {
            throw api.lastError("get the autostart flag of network", name)
        }
        return enabled != 0
    }

    /// Makes libvirtd start the network when it starts, or not (`virsh net-autostart [--disable]`).
    package func setAutostart(_ enabled: Bool) throws(LibvirtError) {
        guard api.table.pointee.virNetworkSetAutostart(pointer, enabled ? 1 : 0) == 0 else {
            throw api.lastError("\(enabled ? "enable" : "disable") autostart of network", name)
        }
        connection.logger.debug(
            "libvirt network autostart \(enabled ? "enabled" : "disabled")",
            metadata: ["libvirt.network": "\(name)"])
    }
}
