extension DomainDescription {
    /// Reads a domain XML document. Interfaces of every type are returned; the vlanwire metadata is
    /// validated here (every problem collected, one line each), so nothing is planned from a bad
    /// policy. `guestHint` names the guest in errors when the XML itself cannot (the hook's argv).
    public init(xml bytes: some Collection<UInt8>, guestHint: String? = nil) throws(Refusal) {
        let guestLabel = guestHint ?? "unknown"
        let root: XMLElement
        do { root = try XMLDocumentParser.parse(bytes) } catch {
            throw Refusal(
                Problem(
                    guest: guestLabel, cause: "domain \(error.description)",
                    fix: "pass libvirt's domain XML (virsh dumpxml GUEST)"))
        }
        guard root.localName == "domain", root.namespaceURI == nil else {
            throw Refusal(
                Problem(
                    guest: guestLabel, cause: "the document's root is <\(root.qualifiedName)>, not <domain>",
                    fix: "pass libvirt's domain XML (virsh dumpxml GUEST)"))
        }
        guard let name = root.child(named: "name")?.text.trimmingASCIIWhitespace, !name.isEmpty else {
            throw Refusal(Problem(guest: guestLabel, cause: "the domain XML has no <name>"))
        }
        let guest = String(name)
        var problems: [Problem] = []
        var interfaces: [DomainInterface] = []
        for element in root.child(named: "devices")?.children(named: "interface") ?? [] {
            switch DomainInterface.read(element) {
            case .success(let interface): interfaces.append(interface)
            case .failure(let problem):
                problems.append(Problem(guest: guest, nic: problem.nic, cause: problem.cause, fix: problem.fix))
            }
        }
        let metadata = VLANWireMetadataReader.read(root: root, guest: guest, problems: &problems)
        guard problems.isEmpty else { throw Refusal(problems) }
        self.init(
            name: guest, uuid: root.child(named: "uuid").map { String($0.text.trimmingASCIIWhitespace) },
            interfaces: interfaces, metadata: metadata)
    }
}

extension DomainInterface {
    struct ReadProblem: Error {
        var nic: String?
        var cause: String
        var fix: String?
    }

    static func read(_ element: XMLElement) -> Result<DomainInterface, ReadProblem> {
        var interface = DomainInterface(type: element.attribute("type") ?? "bridge", line: element.line)
        if let macText = element.child(named: "mac")?.attribute("address") {
            do { interface.mac = try MACAddress(parsing: macText) } catch {
                return .failure(
                    ReadProblem(
                        nic: macText, cause: error.description,
                        fix: "give the interface a MAC like 52:54:00:12:34:56"))
            }
        }
        if let source = element.child(named: "source") {
            interface.sourceBridge = source.attribute("bridge")
            interface.sourceNetwork = source.attribute("network")
            interface.portgroup = source.attribute("portgroup")
            interface.sourceDevice = source.attribute("dev")
        }
        interface.targetDevice = element.child(named: "target")?.attribute("dev")
        interface.model = element.child(named: "model")?.attribute("type")
        interface.virtualPortType = element.child(named: "virtualport")?.attribute("type")
        if let mtu = element.child(named: "mtu") {
            let text = mtu.attribute("size") ?? ""
            guard let size = Int(text), (68...65535).contains(size) else {
                return .failure(
                    ReadProblem(
                        nic: interface.mac?.description ?? "\(interface.type) interface at line \(interface.line)",
                        cause: "<mtu size=\"\(text.escapedForDisplay)\"> is not an MTU (68...65535)",
                        fix: "give <mtu size='9000'/> a number of bytes, or remove it for the default (1500)"))
            }
            interface.mtu = size
        }
        if let vlan = element.child(named: "vlan") {
            interface.libvirtVLAN = LibvirtVLAN(
                trunk: vlan.attribute("trunk") == "yes",
                tags: vlan.children(named: "tag").map { LibvirtVLAN.Tag(id: $0.attribute("id") ?? "", nativeMode: $0.attribute("nativeMode")) })
        }
        return .success(interface)
    }
}

/// Reads `<vw:vlans>`: `<vw:interface mac=..><vw:vlan trunk="yes" tags="1,5,10-20" native="1"/></vw:interface>`,
/// also with libvirt-style `<vw:tag id=".." nativeMode="untagged"/>` children. `native-mode="tagged"`
/// (`nativeMode="tagged"` on a tag) makes the native VLAN leave the port tagged.
enum VLANWireMetadataReader {
    static let vlanAttributes: Set<String> = ["trunk", "tags", "native", "native-mode"]

    static func read(root: XMLElement, guest: String, problems: inout [Problem]) -> [MACAddress: PortPolicy] {
        let namespace = VLANWireMetadata.namespace
        var policies: [MACAddress: PortPolicy] = [:]
        var seen: Set<MACAddress> = []
        let containers = (root.child(named: "metadata")?.children ?? []).filter {
            $0.namespaceURI == namespace && $0.localName == "vlans"
        }
        for entry in containers.flatMap({ $0.children(named: "interface", namespace: namespace) }) {
            guard let macText = entry.attribute("mac") else {
                problems.append(
                    Problem(
                        guest: guest, cause: "vlanwire metadata at line \(entry.line): <vw:interface> has no mac attribute",
                        fix: "write <vw:interface mac=\"52:54:00:..\">"))
                continue
            }
            let mac: MACAddress
            do { mac = try MACAddress(parsing: macText) } catch {
                problems.append(Problem(guest: guest, nic: macText, cause: "vlanwire metadata: \(error.description)"))
                continue
            }
            guard seen.insert(mac).inserted else {
                problems.append(
                    Problem(
                        guest: guest, mac: mac, cause: "vlanwire metadata has two entries for this MAC (second at line \(entry.line))",
                        fix: "keep one <vw:interface> per MAC"))
                continue
            }
            // A MAC the guest has no NIC for is a pending policy (see `DomainDescription.pendingPolicies`).
            do {
                policies[mac] = try policy(of: entry)
            } catch {
                problems.append(Problem(guest: guest, mac: mac, cause: "vlanwire metadata: \(error.cause)", fix: error.fix))
            }
        }
        return policies
    }

    struct EntryError: Error {
        var cause: String
        var fix: String?
    }

    static func policy(of entry: XMLElement) throws(EntryError) -> PortPolicy {
        let namespace = VLANWireMetadata.namespace
        let vlans = entry.children(named: "vlan", namespace: namespace)
        guard vlans.count <= 1 else { throw EntryError(cause: "more than one <vw:vlan>", fix: "keep one <vw:vlan> per interface") }
        let vlan = vlans.first
        let tagElements =
            (vlan.map { $0.children(named: "tag", namespace: namespace) } ?? [])
            + entry.children(named: "tag", namespace: namespace)
        guard vlan != nil || !tagElements.isEmpty else {
            throw EntryError(cause: "no <vw:vlan> or <vw:tag>", fix: "add <vw:vlan tags=\"5\"/> (access) or <vw:vlan trunk=\"yes\" tags=\"1,5\"/>")
        }
        var trunk: Bool?
        var tags = VLANSet.empty
        var native: VLANID?
        var nativeMode: NativeMode?
        if let vlan {
            for attribute in vlan.attributes where attribute.namespaceURI == nil && !vlanAttributes.contains(attribute.localName) {
                throw EntryError(
                    cause: "unknown attribute \(attribute.localName)=\"\(attribute.value.escapedForDisplay)\" on <vw:vlan>",
                    fix: "use trunk=\"yes|no\", tags=\"1,5,10-20\", native=\"N\" and native-mode=\"untagged|tagged\"")
            }
            switch vlan.attribute("trunk") {
            case nil: break
            case "yes": trunk = true
            case "no": trunk = false
            case let other?: throw EntryError(cause: "trunk=\"\(other.escapedForDisplay)\" must be yes or no")
            }
            do {
                if let text = vlan.attribute("tags") { tags = try VLANSet(parsing: text) }
                if let text = vlan.attribute("native") { native = try VLANID(parsing: text) }
            } catch {
                throw EntryError(cause: error.description, fix: "VLAN ids are 1...4094, lists like 1,5,10-20")
            }
            if let text = vlan.attribute("native-mode") {
                guard let mode = NativeMode(rawValue: text) else {
                    throw EntryError(
                        cause: "native-mode=\"\(text.escapedForDisplay)\" must be untagged or tagged",
                        fix: "use native-mode=\"tagged\" (the native VLAN leaves the port tagged) or native-mode=\"untagged\" (the default)")
                }
                guard native != nil else {
                    throw EntryError(
                        cause: "native-mode=\"\(text.escapedForDisplay)\" without native=\"N\"",
                        fix: "add native=\"N\" naming one of the trunk's VLANs, or drop native-mode")
                }
                nativeMode = mode
            }
        }
        for tag in tagElements {
            let id: VLANID
            do { id = try VLANID(parsing: tag.attribute("id") ?? "") } catch {
                throw EntryError(cause: "<vw:tag> at line \(tag.line): \(error.description)", fix: "VLAN ids are 1...4094")
            }
            tags = tags.union(VLANSet(id))
            switch tag.attribute("nativeMode") {
            case nil: break
            case let text?:
                guard let mode = NativeMode(rawValue: text) else {
                    throw EntryError(
                        cause: "nativeMode=\"\(text.escapedForDisplay)\" on <vw:tag id=\"\(id)\"> must be untagged or tagged",
                        fix: "use nativeMode=\"untagged\" (the native VLAN leaves the port untagged) or nativeMode=\"tagged\" (it leaves tagged)")
                }
                guard native == nil || native == id else {
                    throw EntryError(cause: "two native VLANs (\(native!) and \(id))", fix: "mark one VLAN native")
                }
                guard nativeMode == nil || nativeMode == mode else {
                    throw EntryError(
                        cause: "native VLAN \(id) is both \(nativeMode!) and \(mode)", fix: "give the native VLAN one nativeMode")
                }
                native = id
                nativeMode = mode
            }
        }
        guard !tags.isEmpty || native != nil else {
            throw EntryError(cause: "no VLANs given", fix: "add tags=\"5\" (access) or trunk=\"yes\" tags=\"1,5\"")
        }
        if let native, nativeMode == .tagged, !tags.contains(native) {
            throw EntryError(
                cause: "native VLAN \(native) is not in tags=\"\(tags)\" (a tagged native VLAN is one of the trunk's tagged VLANs)",
                fix: "list it: tags=\"\(tags.union(VLANSet(native)))\"")
        }
        let isTrunk = trunk ?? (tags.count > 1 || native != nil)
        if !isTrunk, nativeMode == .tagged {
            throw EntryError(
                cause: "trunk=\"no\" with a tagged native VLAN: an access port's VLAN always leaves untagged",
                fix: "set trunk=\"yes\", or drop native-mode for an access port")
        }
        if !isTrunk {
            guard tags.count == 1, native == nil || native == tags.ranges[0].lowerBound else {
                throw EntryError(
                    cause: "trunk=\"no\" with more than one VLAN (\(tags.union(native.map { VLANSet($0) } ?? .empty)))",
                    fix: "set trunk=\"yes\", or give one VLAN for an access port")
            }
            return .access(tags.ranges[0].lowerBound)
        }
        do { return try PortPolicy.makeTrunk(tags: tags, native: native, nativeMode: nativeMode ?? .untagged) } catch {
            throw EntryError(cause: error.description)
        }
    }
}
