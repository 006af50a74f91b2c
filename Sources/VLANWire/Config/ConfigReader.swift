extension HostConfig {
    /// Parses vlanwire's TOML. Unknown keys are errors (a typo must not silently change wiring).
    public init(toml text: String, path: String = "vlanwire.toml") throws(ConfigError) {
        let root: TOML.Table
        do { root = try TOML.parse(text) } catch { throw ConfigError(file: path, key: nil, message: error.description) }
        let reader = TableReader(file: path, table: root, keyPath: nil)
        try reader.refuseUnknownKeys(["uplink", "network"])
        var uplinks: [Uplink] = []
        for (index, table) in try reader.arrayOfTables("uplink").enumerated() {
            uplinks.append(try Uplink(reading: TableReader(file: path, table: table, keyPath: "uplink[\(index + 1)]")))
        }
        var networks: [NetworkMapping] = []
        for (index, table) in try reader.arrayOfTables("network").enumerated() {
            networks.append(
                try NetworkMapping(
                    reading: TableReader(file: path, table: table, keyPath: "network[\(index + 1)]"),
                    uplinks: uplinks))
        }
        try Self.checkDistinct(uplinks, networks: networks, file: path)
        self.init(uplinks: uplinks, networks: networks, path: path)
    }

    private static func checkDistinct(_ uplinks: [Uplink], networks: [NetworkMapping], file: String) throws(ConfigError) {
        var names: Set<LinkName> = []
        for (index, uplink) in uplinks.enumerated() {
            for name in [uplink.interface, uplink.bridge].compactMap({ $0 }) where !names.insert(name).inserted {
                throw ConfigError(file: file, key: "uplink[\(index + 1)]", message: "\(name) is used by two uplinks")
            }
        }
        var networkNames: Set<String> = []
        for (index, network) in networks.enumerated() where !networkNames.insert(network.name).inserted {
            throw ConfigError(file: file, key: "network[\(index + 1)].name", message: "network '\(network.name)' is defined twice")
        }
    }
}

extension Uplink {
    static let keys: Set<String> = [
        "interface", "bridge", "mode", "vlans", "native-vlan", "access-bridge", "default-policy",
        "access-networks", "stp", "forward-delay", "bridge-netfilter", "fail-closed",
    ]

    init(reading reader: TableReader) throws(ConfigError) {
        try reader.refuseUnknownKeys(Self.keys)
        let interface = try reader.linkName("interface")
        let bridge = try reader.linkName("bridge")
        guard interface != nil else { throw reader.error("interface", "missing (the host NIC or bond, e.g. \"eth0\")") }
        let modeText = try reader.string("mode") ?? "classic"
        guard let mode = UplinkMode(rawValue: modeText) else {
            throw reader.error("mode", "'\(modeText.escapedForDisplay)' is not \"vlan-aware\" or \"classic\"")
        }
        if mode == .vlanAware, bridge == nil {
            throw reader.error("bridge", "missing: vlan-aware mode needs the trunk bridge the uplink is a port of")
        }
        let vlans = try reader.vlanSet("vlans") ?? .all
        let native = try reader.vlanID("native-vlan")
        if let native, !vlans.contains(native) {
            throw reader.error("native-vlan", "VLAN \(native) is not in vlans = \"\(vlans)\"")
        }
        let template = try reader.string("access-bridge")
        if let template { try Self.checkTemplate(template, reader: reader, hasBridge: bridge != nil) }
        let defaultPolicy = try reader.policy("default-policy")
        if let defaultPolicy, !defaultPolicy.memberVLANs.isSubset(of: vlans) {
            throw reader.error("default-policy", "VLANs \(defaultPolicy.memberVLANs.subtracting(vlans)) are not in vlans = \"\(vlans)\"")
        }
        let accessNetworks = try reader.vlanSet("access-networks") ?? .empty
        if !accessNetworks.isSubset(of: vlans) {
            throw reader.error("access-networks", "VLANs \(accessNetworks.subtracting(vlans)) are not in vlans = \"\(vlans)\"")
        }
        let netfilter = try reader.string("bridge-netfilter") ?? "leave"
        guard netfilter == "off" || netfilter == "leave" else {
            throw reader.error("bridge-netfilter", "'\(netfilter.escapedForDisplay)' is not \"off\" or \"leave\"")
        }
        let forwardDelay = try reader.int("forward-delay") ?? 0
        guard (0...3000).contains(forwardDelay) else {
            throw reader.error("forward-delay", "\(forwardDelay) is outside 0...3000 (hundredths of a second)")
        }
        let failClosed = try reader.bool("fail-closed")
        if failClosed == true, mode == .classic {
            throw reader.error(
                "fail-closed", "a classic bridge has no per-port VLANs to close: new ports see every VLAN until wired (use mode = \"vlan-aware\")")
        }
        self.init(
            interface: interface, bridge: bridge, mode: mode, vlans: vlans, nativeVLAN: native,
            accessBridgeTemplate: template, defaultPolicy: defaultPolicy, accessNetworks: accessNetworks,
            stp: try reader.bool("stp") ?? false, forwardDelay: forwardDelay, netfilterOff: netfilter == "off",
            failClosed: failClosed)
    }

    static func checkTemplate(_ template: String, reader: TableReader, hasBridge: Bool) throws(ConfigError) {
        guard template.contains("{vid}") else { throw reader.error("access-bridge", "must contain {vid}") }
        if template.contains("{bridge}"), !hasBridge {
            throw reader.error("access-bridge", "uses {bridge} but this uplink has no bridge")
        }
        let probe = template.replacing("{bridge}", with: "b").replacing("{interface}", with: "i")
            .replacing("{vid}", with: "1")
        if probe.contains("{") || probe.contains("}") {
            throw reader.error("access-bridge", "unknown placeholder (allowed: {bridge}, {interface}, {vid})")
        }
        do { _ = try LinkName(probe) } catch {
            throw reader.error("access-bridge", "does not make a valid link name: \(error.reason)")
        }
    }
}

extension NetworkMapping {
    static let keys: Set<String> = ["name", "uplink", "portgroups", "default-portgroup", "default-policy"]

    init(reading reader: TableReader, uplinks: [Uplink]) throws(ConfigError) {
        try reader.refuseUnknownKeys(Self.keys)
        guard let name = try reader.string("name"), !name.isEmpty else { throw reader.error("name", "missing") }
        guard name.utf8.count <= 64, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
            throw reader.error("name", "'\(name.escapedForDisplay)' is not a usable libvirt network name")
        }
        guard let uplinkName = try reader.linkName("uplink") else { throw reader.error("uplink", "missing (the uplink's interface)") }
        guard let uplink = uplinks.first(where: { $0.interface == uplinkName || $0.bridge == uplinkName }) else {
            throw reader.error("uplink", "no [[uplink]] has interface or bridge \(uplinkName)")
        }
        guard uplink.bridge != nil else {
            throw reader.error("uplink", "uplink \(uplink.label) has no trunk bridge for the network to ride on")
        }
        var portgroups: [String: PortPolicy] = [:]
        if let table = try reader.table("portgroups") {
            let sub = TableReader(file: reader.file, table: table, keyPath: reader.path("portgroups"))
            for key in table.keys {
                guard let policy = try sub.policy(key) else { continue }
                guard policy.memberVLANs.isSubset(of: uplink.vlans) else {
                    throw sub.error(key, "VLANs \(policy.memberVLANs.subtracting(uplink.vlans)) are not carried by uplink \(uplink.label)")
                }
                portgroups[key] = policy
            }
        }
        let defaultPortgroup = try reader.string("default-portgroup")
        if let defaultPortgroup, portgroups[defaultPortgroup] == nil {
            throw reader.error("default-portgroup", "'\(defaultPortgroup.escapedForDisplay)' is not one of the portgroups")
        }
        self.init(
            name: name, uplink: uplinkName, portgroups: portgroups, defaultPortgroup: defaultPortgroup,
            defaultPolicy: try reader.policy("default-policy"))
    }
}

/// Typed access to one TOML table, with errors naming the file and the key.
struct TableReader {
    let file: String
    let table: TOML.Table
    let keyPath: String?

    func path(_ key: String) -> String { keyPath.map { "\($0).\(key)" } ?? key }

    func error(_ key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, key: path(key), message: message)
    }

    func refuseUnknownKeys(_ known: Set<String>) throws(ConfigError) {
        for key in table.keys.sorted() where !known.contains(key) {
            throw error(key, "unknown key (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = table[key] else { return nil }
        guard let string = value.string else { throw error(key, "must be a string") }
        return string
    }

    func int(_ key: String) throws(ConfigError) -> Int? {
        guard let value = table[key] else { return nil }
        guard let int = value.int else { throw error(key, "must be an integer") }
        return int
    }

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = table[key] else { return nil }
        guard let bool = value.bool else { throw error(key, "must be true or false") }
        return bool
    }

    func table(_ key: String) throws(ConfigError) -> TOML.Table? {
        guard let value = table[key] else { return nil }
        guard let table = value.table else { throw error(key, "must be a table") }
        return table
    }

    func arrayOfTables(_ key: String) throws(ConfigError) -> [TOML.Table] {
        guard let value = table[key] else { return [] }
        guard let array = value.array else { throw error(key, "must be an array of tables ([[\(key)]])") }
        var tables: [TOML.Table] = []
        for element in array {
            guard let table = element.table else { throw error(key, "must be an array of tables ([[\(key)]])") }
            tables.append(table)
        }
        return tables
    }

    func linkName(_ key: String) throws(ConfigError) -> LinkName? {
        guard let text = try string(key) else { return nil }
        do { return try LinkName(text) } catch { throw self.error(key, error.description) }
    }

    func vlanSet(_ key: String) throws(ConfigError) -> VLANSet? {
        if let number = table[key]?.int {
            do { return VLANSet(try VLANID(number)) } catch { throw self.error(key, error.description) }
        }
        guard let text = try string(key) else { return nil }
        do { return try VLANSet(parsing: text) } catch { throw self.error(key, error.description) }
    }

    func vlanID(_ key: String) throws(ConfigError) -> VLANID? {
        guard let value = table[key] else { return nil }
        do {
            if let number = value.int { return try VLANID(number) }
            if let text = value.string { return try VLANID(parsing: text) }
        } catch { throw self.error(key, error.description) }
        throw self.error(key, "must be a VLAN id (1...4094)")
    }

    func policy(_ key: String) throws(ConfigError) -> PortPolicy? {
        guard let value = table[key] else { return nil }
        let text: String
        if let number = value.int {
            text = String(number)
        } else if let string = value.string {
            text = string
        } else {
            throw error(key, "must be a policy like \"10\", \"trunk:1,5,10-20 native:1\" or \"trunk:1,5,10-20 native-tagged:1\"")
        }
        do { return try PortPolicy(parsing: text) } catch { throw self.error(key, error.description) }
    }
}
