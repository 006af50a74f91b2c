internal import Mustache
package import VLANWire

/// libvirt XML vlanwire writes: `<network>` definitions and `<interface>` snippets with their metadata.
///
/// Rendered from mustache templates (values XML-escaped). The built-in templates are
/// `xml-templates/*.mustache` (beside this file), embedded in the binary; a file of the same name in a
/// user template directory (`--templates DIR`) overrides one.
package struct XMLTemplates: Sendable {
    package enum Name: String, CaseIterable, Sendable {
        case networkAccess = "network-access.xml"
        case networkTrunk = "network-trunk.xml"
        case interface = "interface.xml"
        case metadata = "metadata.xml"

        var builtIn: [UInt8] {
            switch self {
            case .networkAccess: PackageResources.network_access_xml_mustache
            case .networkTrunk: PackageResources.network_trunk_xml_mustache
            case .interface: PackageResources.interface_xml_mustache
            case .metadata: PackageResources.metadata_xml_mustache
            }
        }
    }

    package struct TemplateError: Error, Sendable, CustomStringConvertible {
        package var template: String
        package var message: String
        package var description: String { "template \(template): \(message)" }
    }

    private let templates: [Name: MustacheTemplate]

    /// The built-in templates, each overridden by `<directory>/<name>.mustache` when that exists.
    package init(overrideDirectory: String? = nil) throws(TemplateError) {
        var templates: [Name: MustacheTemplate] = [:]
        for name in Name.allCases {
            var source = name.builtIn
            var origin = "built-in \(name.rawValue).mustache"
            if let directory = overrideDirectory {
                let path = directory + "/" + name.rawValue + ".mustache"
                if FileAccess.exists(path) {
                    do { source = try FileAccess.read(path, limit: 1 << 20) } catch {
                        throw TemplateError(template: path, message: error.message)
                    }
                    origin = path
                }
            }
            do { templates[name] = try MustacheTemplate(string: String(decoding: source, as: UTF8.self)) } catch {
                throw TemplateError(template: origin, message: "\(error)")
            }
        }
        self.templates = templates
    }

    func render(_ name: Name, _ context: [String: Any]) -> String {
        templates[name]!.render(context)
    }

    /// A libvirt network for one access VLAN of a classic uplink: guests on it see the VLAN untagged.
    package func accessNetwork(name: String, bridge: LinkName, uplink: Uplink, vid: VLANID) -> String {
        render(.networkAccess, ["name": name, "bridge": bridge.rawValue, "uplink": uplink.label, "vid": String(vid.value)])
    }

    /// A libvirt network over a trunk bridge with one portgroup per configured policy.
    package func trunkNetwork(_ network: NetworkMapping, bridge: LinkName, uplink: Uplink) -> String {
        let portgroups: [[String: Any]] = network.portgroups.keys.sorted().map {
            ["name": $0, "isDefault": $0 == network.defaultPortgroup]
        }
        return render(.networkTrunk, ["name": network.name, "bridge": bridge.rawValue, "uplink": uplink.label,
                                      "portgroups": portgroups])
    }

    /// An `<interface type='bridge'>` for `virsh attach-device` or a domain definition.
    package func interface(bridge: LinkName, mac: MACAddress?, model: String = "virtio") -> String {
        var context: [String: Any] = ["bridge": bridge.rawValue, "model": model]
        if let mac { context["mac"] = mac.description }
        return render(.interface, context)
    }

    /// The vlanwire metadata element for these NICs, in the form `virsh metadata --set` and
    /// virDomainSetMetadata take: without a prefix or namespace declaration (libvirt 9.0 refuses one
    /// and puts every element into `urn:vlanwire:1` itself, shown as `vw:` in the domain XML).
    package func metadata(_ policies: [(MACAddress, PortPolicy)]) -> String {
        let interfaces: [[String: Any]] = policies.map { mac, policy in
            switch policy {
            case .access(let vid):
                return ["mac": mac.description, "trunk": false, "tags": vid.description]
            case .trunk(let tagged, let native, let nativeMode):
                var entry: [String: Any] = ["mac": mac.description, "trunk": true,
                                            "tags": tagged.union(native.map { VLANSet($0) } ?? .empty).description]
                if let native { entry["native"] = native.description }
                if native != nil, nativeMode == .tagged { entry["nativeTagged"] = true }
                return entry
            }
        }
        return render(.metadata, ["interfaces": interfaces])
    }
}

/// The libvirt networks a config describes.
package struct NetworkDefinition: Equatable, Sendable {
    package var name: String
    package var xml: String
}

extension HostConfig {
    /// One trunk network per `[[network]]`, and one access network per VLAN in each classic
    /// uplink's `access-networks` (named `<interface>-vlan<vid>`, bridge = the access bridge).
    package func networkDefinitions(templates: XMLTemplates) -> [NetworkDefinition] {
        var definitions: [NetworkDefinition] = []
        for network in networks {
            guard let uplink = uplink(named: network.uplink), let bridge = uplink.bridge else { continue }
            definitions.append(NetworkDefinition(name: network.name,
                                                 xml: templates.trunkNetwork(network, bridge: bridge, uplink: uplink)))
        }
        for uplink in uplinks where uplink.mode == .classic {
            for vid in uplink.accessNetworks {
                let name = "\(uplink.interface?.rawValue ?? uplink.bridge?.rawValue ?? "uplink")-vlan\(vid)"
                definitions.append(NetworkDefinition(
                    name: name, xml: templates.accessNetwork(name: name, bridge: LinkNaming.accessBridge(for: uplink, vid: vid),
                                                             uplink: uplink, vid: vid)))
            }
        }
        return definitions
    }
}
