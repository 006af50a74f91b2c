/// An element of a parsed XML document, with namespaces resolved.
public final class XMLElement: @unchecked Sendable {
    /// The name as written, e.g. `vw:vlan`.
    public let qualifiedName: String
    public let localName: String
    /// The namespace URI the prefix (or default namespace) resolves to; nil when none.
    public let namespaceURI: String?
    public fileprivate(set) var attributes: [XMLAttribute]
    public fileprivate(set) var children: [XMLElement] = []
    /// The element's own character data (not its descendants'), concatenated.
    public fileprivate(set) var text: String = ""
    public let line: Int
    public let column: Int

    init(
        qualifiedName: String, localName: String, namespaceURI: String?, attributes: [XMLAttribute],
        line: Int, column: Int
    ) {
        self.qualifiedName = qualifiedName
        self.localName = localName
        self.namespaceURI = namespaceURI
        self.attributes = attributes
        self.line = line
        self.column = column
    }

    /// The value of the un-namespaced attribute `name` (how libvirt writes its attributes).
    public func attribute(_ name: String) -> String? {
        attributes.first { $0.localName == name && $0.namespaceURI == nil }?.value
    }

    /// Children with this local name and no namespace (libvirt's own elements).
    public func children(named name: String) -> [XMLElement] {
        children.filter { $0.localName == name && $0.namespaceURI == nil }
    }

    public func child(named name: String) -> XMLElement? {
        children.first { $0.localName == name && $0.namespaceURI == nil }
    }

    public func children(named name: String, namespace: String) -> [XMLElement] {
        children.filter { $0.localName == name && $0.namespaceURI == namespace }
    }

    fileprivate func append(child: XMLElement) { children.append(child) }
    fileprivate func append(text more: String) { text += more }
}

public struct XMLAttribute: Sendable, Equatable {
    public var qualifiedName: String
    public var localName: String
    public var namespaceURI: String?
    public var value: String
}

/// Why a document was refused, and where.
public struct XMLSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "XML line \(line), column \(column): \(message)" }
}

/// A small, strict, non-validating XML parser for libvirt's documents.
///
/// Why not FoundationXML/libxml2: the hook runs on every guest start and FoundationXML alone
/// costs several milliseconds of process start-up here; and libvirt's XML never has a DTD, so
/// refusing `<!DOCTYPE` outright removes entity expansion (billion laughs, external entities)
/// from the attack surface instead of configuring it away. No recursion: nesting depth is bounded.
public enum XMLDocumentParser {
    public static let defaultMaximumSize = 16 * 1024 * 1024
    public static let maximumDepth = 256

    public static func parse(_ bytes: some Collection<UInt8>, maximumSize: Int = defaultMaximumSize) throws(XMLSyntaxError) -> XMLElement {
        guard bytes.count <= maximumSize else {
            throw XMLSyntaxError(
                line: 1, column: 1,
                message: "document is \(bytes.count) bytes; at most \(maximumSize) are accepted")
        }
        var parser = Parser(bytes: Array(bytes))
        return try parser.parseDocument()
    }

    public static func parse(_ string: String, maximumSize: Int = defaultMaximumSize) throws(XMLSyntaxError) -> XMLElement {
        try parse(Array(string.utf8), maximumSize: maximumSize)
    }
}

private struct Parser {
    let bytes: [UInt8]
    var position = 0
    var line = 1
    var lineStart = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var column: Int { position - lineStart + 1 }
    var atEnd: Bool { position >= bytes.count }

    func error(_ message: String) -> XMLSyntaxError {
        XMLSyntaxError(line: line, column: column, message: message)
    }

    func peek(_ offset: Int = 0) -> UInt8? {
        position + offset < bytes.count ? bytes[position + offset] : nil
    }

    mutating func advance() {
        if bytes[position] == 0x0A {
            line += 1
            lineStart = position + 1
        }
        position += 1
    }

    mutating func advance(by count: Int) { for _ in 0..<count { advance() } }

    func looking(at literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else { return false }
        return literal.withUTF8Buffer { buffer in
            for index in 0..<count where bytes[position + index] != buffer[index] { return false }
            return true
        }
    }

    mutating func skipWhitespace() {
        while let byte = peek(), byte.isXMLWhitespace { advance() }
    }

    /// Skips up to and including `terminator`, refusing bad UTF-8 on the way.
    mutating func skip(past terminator: StaticString, what: String) throws(XMLSyntaxError) {
        while !atEnd {
            if looking(at: terminator) {
                advance(by: terminator.utf8CodeUnitCount)
                return
            }
            try checkUTF8Sequence()
        }
        throw error("unterminated \(what)")
    }

    /// Validates one UTF-8 sequence at `position` and advances past it.
    mutating func checkUTF8Sequence() throws(XMLSyntaxError) {
        let first = bytes[position]
        if first < 0x80 {
            if first < 0x20 && !first.isXMLWhitespace { throw error("control character 0x\(String(first, radix: 16)) is not allowed in XML") }
            advance()
            return
        }
        let length: Int
        let minimum: UInt32
        switch first {
        case 0xC2...0xDF:
            length = 2
            minimum = 0x80
        case 0xE0...0xEF:
            length = 3
            minimum = 0x800
        case 0xF0...0xF4:
            length = 4
            minimum = 0x10000
        default: throw error("invalid UTF-8 byte 0x\(String(first, radix: 16))")
        }
        guard position + length <= bytes.count else { throw error("truncated UTF-8 sequence") }
        var scalar = UInt32(first) & (0xFF >> (length + 1))
        for index in 1..<length {
            let next = bytes[position + index]
            guard next & 0xC0 == 0x80 else { throw error("invalid UTF-8 continuation byte 0x\(String(next, radix: 16))") }
            scalar = (scalar << 6) | UInt32(next & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else {
            throw error("invalid UTF-8 sequence")
        }
        position += length
    }

    mutating func parseDocument() throws(XMLSyntaxError) -> XMLElement {
        if looking(at: "\u{FEFF}") {
            position += 3
            lineStart = position
        }
        guard !bytes.isEmpty else { throw error("empty document") }
        try skipMisc()
        guard !atEnd else { throw error("no root element") }
        let root = try parseElementTree()
        try skipMisc()
        guard atEnd else { throw error("content after the root element") }
        return root
    }

    /// Whitespace, comments, processing instructions and the XML declaration; refuses DOCTYPE.
    mutating func skipMisc() throws(XMLSyntaxError) {
        while true {
            skipWhitespace()
            if looking(at: "<?") {
                try skip(past: "?>", what: "processing instruction")
            } else if looking(at: "<!--") {
                try skipComment()
            } else if looking(at: "<!DOCTYPE") || looking(at: "<!doctype") {
                throw error("DOCTYPE declarations are not accepted (no DTDs, no entity definitions)")
            } else {
                return
            }
        }
    }

    mutating func skipComment() throws(XMLSyntaxError) {
        advance(by: 4)
        try skip(past: "-->", what: "comment")
    }

    /// Namespace scopes: one dictionary per open element (only elements that declare some).
    struct Scope {
        var depth: Int
        var bindings: [String: String]
    }

    mutating func parseElementTree() throws(XMLSyntaxError) -> XMLElement {
        var stack: [XMLElement] = []
        var scopes: [Scope] = [Scope(depth: -1, bindings: ["xml": "http://www.w3.org/XML/1998/namespace"])]
        var root: XMLElement?

        repeat {
            if looking(at: "</") {
                guard let open = stack.last else { throw error("unexpected end tag") }
                advance(by: 2)
                let name = try parseName()
                skipWhitespace()
                guard peek() == UInt8(ascii: ">") else { throw error("expected '>' to end </\(name)>") }
                advance()
                guard name == open.qualifiedName else {
                    throw error("end tag </\(name)> does not match <\(open.qualifiedName)> opened at line \(open.line)")
                }
                stack.removeLast()
                if scopes.last?.depth == stack.count { scopes.removeLast() }
            } else if looking(at: "<!--") {
                try skipComment()
            } else if looking(at: "<![CDATA[") {
                guard let open = stack.last else { throw error("CDATA outside the root element") }
                advance(by: 9)
                let start = position
                try skip(past: "]]>", what: "CDATA section")
                open.append(text: String(decoding: bytes[start..<(position - 3)], as: UTF8.self))
            } else if looking(at: "<?") {
                try skip(past: "?>", what: "processing instruction")
            } else if looking(at: "<!") {
                throw error("markup declarations are not accepted")
            } else if peek() == UInt8(ascii: "<") {
                guard root == nil || !stack.isEmpty else { throw error("content after the root element") }
                guard stack.count < XMLDocumentParser.maximumDepth else {
                    throw error("elements nested deeper than \(XMLDocumentParser.maximumDepth)")
                }
                let (element, selfClosing, bindings) = try parseStartTag(scopes: scopes, depth: stack.count)
                if let parent = stack.last { parent.append(child: element) } else { root = element }
                if !selfClosing {
                    if !bindings.isEmpty { scopes.append(Scope(depth: stack.count, bindings: bindings)) }
                    stack.append(element)
                }
            } else {
                guard let open = stack.last else { throw error("text outside the root element") }
                let text = try parseCharacterData()
                open.append(text: text)
            }
            if stack.isEmpty, root != nil { break }
            if atEnd {
                throw error(
                    stack.last.map { "unexpected end of document inside <\($0.qualifiedName)> opened at line \($0.line)" }
                        ?? "unexpected end of document")
            }
        } while true
        return root!
    }

    mutating func parseName() throws(XMLSyntaxError) -> String {
        let start = position
        while let byte = peek(), byte.isXMLNameByte { advance() }
        guard position > start else { throw error("expected a name") }
        guard let name = String(validating: bytes[start..<position], as: UTF8.self) else {
            throw error("name is not valid UTF-8")
        }
        guard let first = name.utf8.first, !(0x30...0x39).contains(first), first != UInt8(ascii: "-"), first != UInt8(ascii: ".")
        else { throw error("'\(name)' is not a valid XML name") }
        return name
    }

    mutating func parseStartTag(
        scopes: [Scope], depth: Int
    ) throws(XMLSyntaxError)
        -> (XMLElement, selfClosing: Bool, bindings: [String: String])
    {
        let elementLine = line
        let elementColumn = column
        advance()
        let name = try parseName()
        var raw: [(name: String, value: String)] = []
        var selfClosing = false
        while true {
            let hadSpace = peek()?.isXMLWhitespace ?? false
            skipWhitespace()
            guard let byte = peek() else { throw error("unterminated start tag <\(name)>") }
            if byte == UInt8(ascii: ">") {
                advance()
                break
            }
            if byte == UInt8(ascii: "/") {
                advance()
                guard peek() == UInt8(ascii: ">") else { throw error("expected '>' after '/' in <\(name)>") }
                advance()
                selfClosing = true
                break
            }
            guard hadSpace else { throw error("expected whitespace before attribute in <\(name)>") }
            let attributeName = try parseName()
            skipWhitespace()
            guard peek() == UInt8(ascii: "=") else { throw error("expected '=' after attribute \(attributeName)") }
            advance()
            skipWhitespace()
            let value = try parseAttributeValue()
            guard !raw.contains(where: { $0.name == attributeName }) else {
                throw error("attribute \(attributeName) appears twice in <\(name)>")
            }
            raw.append((attributeName, value))
        }

        var bindings: [String: String] = [:]
        for (attributeName, value) in raw {
            if attributeName == "xmlns" {
                bindings[""] = value
            } else if attributeName.hasPrefix("xmlns:") {
                bindings[String(attributeName.dropFirst(6))] = value
            }
        }
        func resolve(_ prefix: String) -> String?? {
            if let bound = bindings[prefix] { return .some(bound.isEmpty ? nil : bound) }
            for scope in scopes.reversed() {
                if let bound = scope.bindings[prefix] { return .some(bound.isEmpty ? nil : bound) }
            }
            return prefix.isEmpty ? .some(nil) : nil
        }
        let (prefix, local) = Self.split(name)
        guard let namespace = resolve(prefix ?? "") else { throw error("undeclared namespace prefix '\(prefix ?? "")' in <\(name)>") }
        var attributes: [XMLAttribute] = []
        for (attributeName, value) in raw where attributeName != "xmlns" && !attributeName.hasPrefix("xmlns:") {
            let (attributePrefix, attributeLocal) = Self.split(attributeName)
            var attributeNamespace: String?
            if let attributePrefix {
                guard let resolved = resolve(attributePrefix) else {
                    throw error("undeclared namespace prefix '\(attributePrefix)' on attribute \(attributeName)")
                }
                attributeNamespace = resolved
            }
            attributes.append(
                XMLAttribute(
                    qualifiedName: attributeName, localName: attributeLocal,
                    namespaceURI: attributeNamespace, value: value))
        }
        let element = XMLElement(
            qualifiedName: name, localName: local, namespaceURI: namespace,
            attributes: attributes, line: elementLine, column: elementColumn)
        return (element, selfClosing, bindings)
    }

    static func split(_ name: String) -> (prefix: String?, local: String) {
        guard let colon = name.firstIndex(of: ":") else { return (nil, name) }
        return (String(name[..<colon]), String(name[name.index(after: colon)...]))
    }

    mutating func parseAttributeValue() throws(XMLSyntaxError) -> String {
        guard let quote = peek(), quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
            throw error("attribute value must be quoted")
        }
        advance()
        var value: [UInt8] = []
        while let byte = peek(), byte != quote {
            // Printable ASCII needs no checks: take the whole run at once.
            if byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "<"), byte != UInt8(ascii: "&") {
                let start = position
                position += 1
                while position < bytes.count {
                    let next = bytes[position]
                    guard next >= 0x20, next < 0x80, next != quote, next != UInt8(ascii: "<"), next != UInt8(ascii: "&") else { break }
                    position += 1
                }
                value += bytes[start..<position]
                continue
            }
            switch byte {
            case UInt8(ascii: "<"): throw error("'<' is not allowed in an attribute value")
            case UInt8(ascii: "&"): value += try parseReference()
            case 0x09, 0x0A, 0x0D:
                value.append(0x20)
                advance()  // attribute-value normalisation
            default:
                let start = position
                try checkUTF8Sequence()
                value += bytes[start..<position]
            }
        }
        guard !atEnd else { throw error("unterminated attribute value") }
        advance()
        return String(decoding: value, as: UTF8.self)
    }

    mutating func parseCharacterData() throws(XMLSyntaxError) -> String {
        var text: [UInt8] = []
        while let byte = peek(), byte != UInt8(ascii: "<") {
            // Printable ASCII and whitespace need no checks (only line counting): take the whole run at once.
            if byte < 0x80, byte >= 0x20 || byte.isXMLWhitespace, byte != UInt8(ascii: "&"), byte != UInt8(ascii: "]") {
                let start = position
                while position < bytes.count {
                    let next = bytes[position]
                    guard next < 0x80, next >= 0x20 || next.isXMLWhitespace, next != UInt8(ascii: "<"),
                        next != UInt8(ascii: "&"), next != UInt8(ascii: "]")
                    else { break }
                    if next == 0x0A {
                        line += 1
                        lineStart = position + 1
                    }
                    position += 1
                }
                text += bytes[start..<position]
                continue
            }
            if byte == UInt8(ascii: "&") {
                text += try parseReference()
            } else {
                if byte == UInt8(ascii: "]"), looking(at: "]]>") { throw error("']]>' is not allowed in text") }
                let start = position
                try checkUTF8Sequence()
                text += bytes[start..<position]
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `&lt;` and friends and numeric references; any other entity is refused (there are no DTDs).
    mutating func parseReference() throws(XMLSyntaxError) -> [UInt8] {
        advance()
        let start = position
        while let byte = peek(), byte != UInt8(ascii: ";"), position - start < 12 { advance() }
        guard peek() == UInt8(ascii: ";") else { throw error("unterminated entity or character reference") }
        let name = String(decoding: bytes[start..<position], as: UTF8.self)
        advance()
        switch name {
        case "lt": return [UInt8(ascii: "<")]
        case "gt": return [UInt8(ascii: ">")]
        case "amp": return [UInt8(ascii: "&")]
        case "apos": return [UInt8(ascii: "'")]
        case "quot": return [UInt8(ascii: "\"")]
        default:
            guard name.hasPrefix("#") else { throw error("unknown entity '&\(name);' (only the five XML entities are accepted)") }
            let digits = name.dropFirst()
            let value: UInt32? = digits.hasPrefix("x") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
            guard let value, let scalar = Unicode.Scalar(value), value != 0,
                value >= 0x20 || value == 0x09 || value == 0x0A || value == 0x0D
            else { throw error("invalid character reference '&\(name);'") }
            return Array(String(Character(scalar)).utf8)
        }
    }
}

extension UInt8 {
    var isXMLWhitespace: Bool { self == 0x20 || self == 0x09 || self == 0x0A || self == 0x0D }
    /// Name bytes: ASCII letters, digits, `_ - . :` and any non-ASCII byte (checked as UTF-8 later).
    var isXMLNameByte: Bool {
        switch self {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"):
            true
        default: self >= 0x80
        }
    }
}
