internal import VLANWire

/// The parts of a libvirt `<network>` definition that vlanwire writes, read from XML so that the
/// definition vlanwire renders and the one libvirt holds can be compared semantically.
///
/// libvirt rewrites a network it stores (verified on libvirt 9.0.0): it adds `<uuid>`, drops
/// comments, re-indents, writes `<portgroup name='x'></portgroup>` for `<portgroup name='x'/>`, and
/// for networks without `<forward mode='bridge'>` adds `<mac address=…>` and fills in
/// `<bridge name='virbrN' stp='on' delay='0'/>`. None of that is a difference: what is compared is
/// what vlanwire's document sets — the forward mode, every attribute vlanwire's `<forward>` and
/// `<bridge>` carry, the portgroups (by name, with their `default` flag and any content), and any
/// other top-level element a user template adds (e.g. `<mtu>`), which must be present unchanged.
/// Top-level elements only libvirt's side has (uuid, mac, ip, …) are ignored.
package struct NetworkShape: Equatable, Sendable {
    /// `<name>`.
    package var name: String
    /// `<forward>`; nil for a network without one (libvirt calls it isolated).
    package var forward: Element?
    /// `<bridge>`.
    package var bridge: Element?
    /// `<portgroup>`s in document order.
    package var portgroups: [Portgroup]
    /// Every other top-level element except `<name>` and `<uuid>`, in document order.
    package var others: [Element]

    /// One portgroup: its name, whether it is the network's default, and its content.
    package struct Portgroup: Equatable, Sendable {
        package var name: String
        package var isDefault: Bool
        /// The portgroup element without its `name` and `default` attributes.
        package var content: Element
    }

    /// An element reduced to what carries meaning: local name, attributes (order-free), child
    /// elements (in order) and trimmed text. Comments and indentation are gone.
    package struct Element: Equatable, Sendable, CustomStringConvertible {
        package var name: String
        package var attributes: [String: String]
        package var children: [Element]
        package var text: String

        init(_ element: XMLElement, dropping dropped: Set<String> = []) {
            name = element.localName
            var attributes: [String: String] = [:]
            for attribute in element.attributes where !dropped.contains(attribute.localName) {
                attributes[attribute.qualifiedName] = attribute.value
            }
            self.attributes = attributes
            children = element.children.map { Element($0) }
            text = element.text.trimmedXMLWhitespace
        }

        /// Compact one-line XML, attributes sorted: for messages.
        package var description: String {
            let attributeText = attributes.keys.sorted().map { " \($0)='\(attributes[$0]!)'" }.joined()
            if children.isEmpty, text.isEmpty { return "<\(name)\(attributeText)/>" }
            return "<\(name)\(attributeText)>\(text)\(children.map(\.description).joined())</\(name)>"
        }
    }

    /// Why a document is not a network definition.
    package struct ReadError: Error, Equatable, Sendable, CustomStringConvertible {
        package var message: String
        package init(message: String) { self.message = message }
        package var description: String { message }
    }

    /// Reads a `<network>` document (vlanwire's rendering, or `virsh net-dumpxml --inactive`).
    package init(xml: String) throws(ReadError) {
        let root: XMLElement
        do { root = try XMLDocumentParser.parse(xml) } catch {
            throw ReadError(message: "network \(error.description)")
        }
        guard root.localName == "network", root.namespaceURI == nil else {
            throw ReadError(message: "the document's root is <\(root.qualifiedName)>, not <network>")
        }
        guard let name = root.child(named: "name")?.text.trimmedXMLWhitespace, !name.isEmpty else {
            throw ReadError(message: "the network has no <name>")
        }
        self.name = name
        forward = root.child(named: "forward").map { Element($0) }
        bridge = root.child(named: "bridge").map { Element($0) }
        var portgroups: [Portgroup] = []
        for element in root.children(named: "portgroup") {
            guard let portgroupName = element.attribute("name"), !portgroupName.isEmpty else {
                throw ReadError(message: "network '\(name)': a <portgroup> has no name")
            }
            guard !portgroups.contains(where: { $0.name == portgroupName }) else {
                throw ReadError(message: "network '\(name)': two portgroups named '\(portgroupName)'")
            }
            portgroups.append(
                Portgroup(
                    name: portgroupName, isDefault: element.attribute("default") == "yes",
                    content: Element(element, dropping: ["name", "default"])))
        }
        self.portgroups = portgroups
        let compared: Set<String> = ["name", "uuid", "forward", "bridge", "portgroup"]
        others = root.children.filter { !compared.contains($0.localName) }.map { Element($0) }
    }

    /// libvirt's forward mode: `nat` when `<forward>` names none (libvirt's default), nil without
    /// `<forward>`.
    package var forwardMode: String? {
        forward.map { $0.attributes["mode"] ?? "nat" }
    }

    package func portgroup(named name: String) -> Portgroup? { portgroups.first { $0.name == name } }

    /// What would change if `self` (vlanwire's definition) replaced `existing` (libvirt's), one
    /// phrase each, e.g. `portgroup router added`, `forward mode: nat -> bridge`,
    /// `portgroup office: now the default`; empty when they agree on everything `self` sets.
    package func changes(from existing: NetworkShape) -> [String] {
        var changes: [String] = []
        if forwardMode != existing.forwardMode {
            changes.append("forward mode: \(existing.forwardMode ?? "none") -> \(forwardMode ?? "none")")
        }
        if let forward {
            changes += Self.attributeChanges(of: "forward", ours: forward, theirs: existing.forward, skipping: ["mode"])
            if !forward.children.isEmpty, forward.children != existing.forward?.children {
                changes.append("forward: \(existing.forward?.description ?? "none") -> \(forward)")
            }
        }
        if let bridge {
            changes += Self.attributeChanges(of: "bridge", ours: bridge, theirs: existing.bridge, skipping: [])
            if !bridge.children.isEmpty, bridge.children != existing.bridge?.children {
                changes.append("bridge: \(existing.bridge?.description ?? "none") -> \(bridge)")
            }
        }
        for portgroup in portgroups {
            guard let theirs = existing.portgroup(named: portgroup.name) else {
                changes.append("portgroup \(portgroup.name) added" + (portgroup.isDefault ? " (default)" : ""))
                continue
            }
            if portgroup.isDefault != theirs.isDefault {
                changes.append("portgroup \(portgroup.name): \(portgroup.isDefault ? "now the default" : "no longer the default")")
            }
            if portgroup.content != theirs.content {
                changes.append("portgroup \(portgroup.name): \(theirs.content) -> \(portgroup.content)")
            }
        }
        for theirs in existing.portgroups where portgroup(named: theirs.name) == nil {
            changes.append("portgroup \(theirs.name) removed")
        }
        for other in others where !existing.others.contains(other) {
            let before = existing.others.filter { $0.name == other.name }
            changes.append(before.isEmpty ? "\(other) added" : "\(before.map(\.description).joined(separator: " ")) -> \(other)")
        }
        return changes
    }

    /// One phrase per attribute `ours` sets that `theirs` lacks or has with another value.
    static func attributeChanges(
        of element: String, ours: Element, theirs: Element?,
        skipping skipped: Set<String>
    ) -> [String] {
        ours.attributes.keys.sorted().compactMap { key in
            guard !skipped.contains(key), let value = ours.attributes[key] else { return nil }
            let before = theirs?.attributes[key]
            return before == value ? nil : "\(element) \(key): \(before ?? "unset") -> \(value)"
        }
    }
}

extension NetworkShape {
    /// `xml` with `<uuid>uuid</uuid>` inserted right after the network's `<name>` element, unless
    /// it already has a `<uuid>`.
    ///
    /// libvirt only replaces an existing network's definition when the new one carries the same
    /// UUID: without one it generates a fresh UUID and refuses ("operation failed: network 'lan'
    /// already exists with uuid …", libvirt 9.0.0).
    package static func inserting(uuid: String, into xml: String) throws(ReadError) -> String {
        let root: XMLElement
        do { root = try XMLDocumentParser.parse(xml) } catch {
            throw ReadError(message: "network \(error.description)")
        }
        if root.child(named: "uuid") != nil { return xml }
        guard let name = root.child(named: "name") else { throw ReadError(message: "the network has no <name>") }
        // The parser counts columns in bytes from each line's start: find <name>'s byte offset,
        // then its end tag (a name's text is escaped, so `</name>` cannot occur inside it).
        let bytes = Array(xml.utf8)
        var offset = 0
        var line = 1
        while line < name.line, offset < bytes.count {
            if bytes[offset] == UInt8(ascii: "\n") { line += 1 }
            offset += 1
        }
        offset += name.column - 1
        let endTag = Array("</name>".utf8)
        var index = offset
        while index + endTag.count <= bytes.count, !bytes[index..<(index + endTag.count)].elementsEqual(endTag) {
            index += 1
        }
        guard index + endTag.count <= bytes.count else { throw ReadError(message: "the network's <name> has no end tag") }
        let insertAt = index + endTag.count
        return String(decoding: bytes[..<insertAt], as: UTF8.self) + "<uuid>\(uuid)</uuid>"
            + String(decoding: bytes[insertAt...], as: UTF8.self)
    }
}

extension String {
    /// Without leading and trailing XML white space (space, tab, CR, LF).
    var trimmedXMLWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
