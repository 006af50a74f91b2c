/// vlanwire's reader of TOML 1.0: tables and arrays of tables (`[a]`, `[[a]]`), bare, quoted and
/// dotted keys, strings (basic, literal and their multi-line forms), integers (decimal, hex, octal,
/// binary), booleans, arrays and inline tables. Floats and dates, which no vlanwire setting takes,
/// are refused with their line, as is anything else that is not TOML.
///
/// Why not a TOML library: the hook reads the config on every guest start, and TOMLKit brought
/// toml++ (C++ and its runtime), Foundation, leaks, and assertions that aborted the process on
/// malformed input (found by Fuzz/). This reader is pure Swift, bounded in nesting, and every
/// refusal names a line and a column.
enum TOML {
    indirect enum Value: Equatable, Sendable {
        case string(String)
        case integer(Int)
        case boolean(Bool)
        case array([Value])
        case table(Table)

        var string: String? { if case .string(let value) = self { value } else { nil } }
        var int: Int? { if case .integer(let value) = self { value } else { nil } }
        var bool: Bool? { if case .boolean(let value) = self { value } else { nil } }
        var array: [Value]? { if case .array(let value) = self { value } else { nil } }
        var table: Table? { if case .table(let value) = self { value } else { nil } }
    }

    struct Table: Equatable, Sendable {
        /// In the order the document defines them.
        var keys: [String] = []
        var values: [String: Value] = [:]

        subscript(key: String) -> Value? { values[key] }
    }

    struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        var line: Int
        var column: Int
        var message: String
        var description: String { "line \(line), column \(column): \(message)" }
    }

    /// Arrays and inline tables nest at most this deep (the reader recurses into them).
    static let maximumNesting = 64

    static func parse(_ text: String) throws(ParseError) -> Table {
        var parser = Parser(bytes: Array(text.utf8))
        return try parser.document()
    }
}

/// The document as it is built: tables stay open for later headers and dotted keys, unless TOML
/// closes them (inline tables, arrays written as values).
private final class Node {
    enum Kind {
        case table, array
        case scalar(TOML.Value)
    }
    var kind: Kind
    var keys: [String] = []
    var children: [String: Node] = [:]
    var elements: [Node] = []
    /// A table named by a header or a key, not only made on the way to a deeper one.
    var defined = false
    /// An inline table or an array written as a value: nothing may be added later.
    var closed = false
    var isArrayOfTables = false

    init(_ kind: Kind) { self.kind = kind }

    var isTable: Bool { if case .table = kind { true } else { false } }

    var value: TOML.Value {
        switch kind {
        case .scalar(let value): return value
        case .array: return .array(elements.map(\.value))
        case .table:
            return .table(TOML.Table(keys: keys, values: children.mapValues(\.value)))
        }
    }

    func add(_ key: String, _ node: Node) {
        keys.append(key)
        children[key] = node
    }
}

private struct Parser {
    let bytes: [UInt8]
    var index = 0
    var line = 1
    var lineStart = 0
    var depth = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }
    func peek(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

    func error(_ message: String) -> TOML.ParseError {
        TOML.ParseError(line: line, column: index - lineStart + 1, message: message)
    }

    static func isBareKey(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    mutating func document() throws(TOML.ParseError) -> TOML.Table {
        let root = Node(.table)
        var table = root
        while true {
            skipSpaces()
            guard let byte = current else { break }
            switch byte {
            case UInt8(ascii: "#"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try endOfLine()
            case UInt8(ascii: "["):
                table = try header(root)
                try endOfLine()
            default:
                try keyValue(into: table)
                try endOfLine()
            }
        }
        return root.value.table!
    }

    mutating func skipSpaces() {
        while current == UInt8(ascii: " ") || current == UInt8(ascii: "\t") { index += 1 }
    }

    /// Spaces, a comment, then a newline or the end of the text.
    mutating func endOfLine() throws(TOML.ParseError) {
        skipSpaces()
        if current == UInt8(ascii: "#") {
            index += 1
            while let byte = current, byte != UInt8(ascii: "\n"), byte != UInt8(ascii: "\r") {
                guard byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F) else { throw error("a control character in a comment") }
                index += 1
            }
        }
        guard let byte = current else { return }
        if byte == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { index += 1 }
        guard current == UInt8(ascii: "\n") else { throw error("expected the end of the line") }
        newline()
    }

    mutating func newline() {
        index += 1
        line += 1
        lineStart = index
    }

    /// Spaces, newlines and comments, inside an array.
    mutating func skipBlank() throws(TOML.ParseError) {
        while true {
            skipSpaces()
            guard let byte = current, byte == UInt8(ascii: "#") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") else { return }
            try endOfLine()
        }
    }

    /// `[a.b]` or `[[a.b]]`; returns the table that the following keys go into.
    mutating func header(_ root: Node) throws(TOML.ParseError) -> Node {
        index += 1
        let isArray = current == UInt8(ascii: "[")
        if isArray { index += 1 }
        skipSpaces()
        guard let first = current, Self.isBareKey(first) || first == UInt8(ascii: "\"") || first == UInt8(ascii: "'") else {
            throw error("a table header needs a key")
        }
        let path = try key()
        let close = isArray ? "]]" : "]"
        for byte in close.utf8 {
            guard current == byte else { throw error("expected \(close) to close the \(isArray ? "array-of-tables " : "")header") }
            index += 1
        }
        var table = root
        for name in path.dropLast() { table = try descend(table, name, path: path) }
        let name = path.last!
        let dotted = path.joined(separator: ".")
        if isArray {
            let array: Node
            if let existing = table.children[name] {
                guard existing.isArrayOfTables else { throw error("[[\(dotted)]]: '\(name)' is already defined as something else") }
                array = existing
            } else {
                guard !table.closed else { throw error("[[\(dotted)]]: extends an inline table") }
                array = Node(.array)
                array.isArrayOfTables = true
                table.add(name, array)
            }
            let element = Node(.table)
            element.defined = true
            array.elements.append(element)
            return element
        }
        if let existing = table.children[name] {
            guard existing.isTable, !existing.defined, !existing.closed else { throw error("[\(dotted)] is defined twice") }
            existing.defined = true
            return existing
        }
        guard !table.closed else { throw error("[\(dotted)]: extends an inline table") }
        let created = Node(.table)
        created.defined = true
        table.add(name, created)
        return created
    }

    /// The table `name` inside `table` on the way to a deeper key, made if missing.
    mutating func descend(_ table: Node, _ name: String, path: [String]) throws(TOML.ParseError) -> Node {
        if let existing = table.children[name] {
            if existing.isTable, !existing.closed { return existing }
            if existing.isArrayOfTables, let last = existing.elements.last { return last }
            throw error("'\(path.joined(separator: "."))': '\(name)' is not a table")
        }
        guard !table.closed else { throw error("'\(path.joined(separator: "."))': extends an inline table") }
        let created = Node(.table)
        table.add(name, created)
        return created
    }

    /// `key = value` (the key may be dotted) into `table`.
    mutating func keyValue(into table: Node) throws(TOML.ParseError) {
        guard let first = current, Self.isBareKey(first) || first == UInt8(ascii: "\"") || first == UInt8(ascii: "'") else {
            throw error("expected a key")
        }
        let path = try key()
        skipSpaces()
        guard current == UInt8(ascii: "=") else { throw error("expected = after the key '\(path.joined(separator: "."))'") }
        index += 1
        skipSpaces()
        let node = try value()
        var target = table
        for name in path.dropLast() {
            if let existing = target.children[name], existing.isTable, existing.defined, !existing.closed, existing !== table {
                throw error("'\(path.joined(separator: "."))': table '\(name)' is already defined")
            }
            target = try descend(target, name, path: path)
        }
        let name = path.last!
        guard target.children[name] == nil else { throw error("'\(path.joined(separator: "."))' is defined twice") }
        if node.isTable { node.defined = true }
        target.add(name, node)
    }

    /// A key, dotted or not: `a`, `"a b"`, `'a'`, `a.b."c"`.
    mutating func key() throws(TOML.ParseError) -> [String] {
        var path: [String] = []
        while true {
            skipSpaces()
            switch current {
            case UInt8(ascii: "\""):
                guard peek(1) != UInt8(ascii: "\"") || peek(2) != UInt8(ascii: "\"") else { throw error("a key cannot be a multi-line string") }
                path.append(try basicString())
            case UInt8(ascii: "'"):
                guard peek(1) != UInt8(ascii: "'") || peek(2) != UInt8(ascii: "'") else { throw error("a key cannot be a multi-line string") }
                path.append(try literalString())
            case let byte? where Self.isBareKey(byte):
                let start = index
                while let byte = current, Self.isBareKey(byte) { index += 1 }
                path.append(String(decoding: bytes[start..<index], as: UTF8.self))
            default:
                throw error("expected a key")
            }
            skipSpaces()
            guard current == UInt8(ascii: ".") else { return path }
            index += 1
        }
    }

    mutating func value() throws(TOML.ParseError) -> Node {
        switch current {
        case UInt8(ascii: "\""):
            if peek(1) == UInt8(ascii: "\""), peek(2) == UInt8(ascii: "\"") { return Node(.scalar(.string(try multilineString(literal: false)))) }
            return Node(.scalar(.string(try basicString())))
        case UInt8(ascii: "'"):
            if peek(1) == UInt8(ascii: "'"), peek(2) == UInt8(ascii: "'") { return Node(.scalar(.string(try multilineString(literal: true)))) }
            return Node(.scalar(.string(try literalString())))
        case UInt8(ascii: "["):
            return try array()
        case UInt8(ascii: "{"):
            return try inlineTable()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            for (word, value) in [("true", true), ("false", false)] where bytes[index...].starts(with: word.utf8) {
                index += word.utf8.count
                if let byte = current, Self.isBareKey(byte) { break }
                return Node(.scalar(.boolean(value)))
            }
            throw error("expected a value (true, false, a number, a \"string\", an [array] or an { inline table })")
        case let byte? where (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-"):
            return Node(.scalar(.integer(try integer())))
        case UInt8(ascii: "i"), UInt8(ascii: "n"):
            throw error("floating-point numbers are not used by vlanwire's settings")
        default:
            throw error("expected a value (true, false, a number, a \"string\", an [array] or an { inline table })")
        }
    }

    mutating func nest() throws(TOML.ParseError) {
        depth += 1
        guard depth <= TOML.maximumNesting else { throw error("arrays and inline tables nested deeper than \(TOML.maximumNesting)") }
    }

    mutating func array() throws(TOML.ParseError) -> Node {
        try nest()
        index += 1
        let node = Node(.array)
        node.closed = true
        while true {
            try skipBlank()
            if current == UInt8(ascii: "]") { break }
            node.elements.append(try value())
            try skipBlank()
            if current == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard current == UInt8(ascii: "]") else { throw error("expected , or ] in an array") }
            break
        }
        index += 1
        depth -= 1
        return node
    }

    mutating func inlineTable() throws(TOML.ParseError) -> Node {
        try nest()
        index += 1
        let node = Node(.table)
        skipSpaces()
        if current == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipSpaces()
                if current == UInt8(ascii: "\n") || current == UInt8(ascii: "\r") { throw error("an inline table stays on one line") }
                try keyValue(into: node)
                skipSpaces()
                if current == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard current == UInt8(ascii: "}") else { throw error("expected , or } in an inline table (on one line)") }
                index += 1
                break
            }
        }
        node.closed = true
        depth -= 1
        return node
    }

    /// A decimal integer with an optional sign and `_` between digits, or `0x`, `0o`, `0b`.
    mutating func integer() throws(TOML.ParseError) -> Int {
        let start = index
        while let byte = current, Self.isBareKey(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":") {
            index += 1
        }
        let token = String(decoding: bytes[start..<index], as: UTF8.self)
        let failure = TOML.ParseError(
            line: line, column: start - lineStart + 1,
            message: "'\(token)' is not an integer (text goes in quotes; floats and dates are not used by vlanwire's settings)")
        var digits = Substring(token)
        var negative = false
        var radix = 10
        if let sign = digits.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        if token.first != "+", token.first != "-", digits.count > 2, digits.hasPrefix("0") {
            switch digits.dropFirst().first {
            case "x": radix = 16
            case "o": radix = 8
            case "b": radix = 2
            default: break
            }
            if radix != 10 { digits = digits.dropFirst(2) }
        }
        guard !digits.isEmpty, digits.first != "_", digits.last != "_", !digits.contains("__"),
            radix != 10 || digits == "0" || !digits.hasPrefix("0"),
            let magnitude = Int(digits.filter { $0 != "_" }, radix: radix)
        else { throw failure }
        return negative ? -magnitude : magnitude
    }

    /// `"…"` with TOML's escapes.
    mutating func basicString() throws(TOML.ParseError) -> String {
        index += 1
        var out: [UInt8] = []
        while true {
            guard let byte = current, byte != UInt8(ascii: "\n"), byte != UInt8(ascii: "\r") else {
                throw error("a \"string\" is not closed on its line")
            }
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"): try escape(into: &out)
            default:
                guard byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F) else { throw error("a control character in a string") }
                out.append(byte)
            }
        }
    }

    /// `'…'`, taken as written.
    mutating func literalString() throws(TOML.ParseError) -> String {
        index += 1
        let start = index
        while true {
            guard let byte = current, byte != UInt8(ascii: "\n"), byte != UInt8(ascii: "\r") else {
                throw error("a 'string' is not closed on its line")
            }
            if byte == UInt8(ascii: "'") { break }
            guard byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F) else { throw error("a control character in a string") }
            index += 1
        }
        defer { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// `"""…"""` (escapes, a backslash at the end of a line joins lines) or `'''…'''` (as written);
    /// a newline right after the opening quotes is not part of the string.
    mutating func multilineString(literal: Bool) throws(TOML.ParseError) -> String {
        let quote = literal ? UInt8(ascii: "'") : UInt8(ascii: "\"")
        index += 3
        if current == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { index += 1 }
        if current == UInt8(ascii: "\n") { newline() }
        var out: [UInt8] = []
        while true {
            guard let byte = current else { throw error("a multi-line string is not closed") }
            if byte == quote, peek(1) == quote, peek(2) == quote {
                var run = 3
                while run < 5, peek(run) == quote { run += 1 }
                out.append(contentsOf: repeatElement(quote, count: run - 3))
                index += run
                return String(decoding: out, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") {
                index += 1
                continue
            }
            if byte == UInt8(ascii: "\n") {
                out.append(byte)
                newline()
                continue
            }
            index += 1
            if !literal, byte == UInt8(ascii: "\\") {
                // A backslash, then only spaces up to the end of the line: the line break and the
                // blanks after it are dropped.
                var probe = index
                while probe < bytes.count, bytes[probe] == UInt8(ascii: " ") || bytes[probe] == UInt8(ascii: "\t") { probe += 1 }
                if probe < bytes.count, bytes[probe] == UInt8(ascii: "\n") || bytes[probe] == UInt8(ascii: "\r") {
                    index = probe
                    while let next = current,
                        next == UInt8(ascii: " ") || next == UInt8(ascii: "\t") || next == UInt8(ascii: "\n") || next == UInt8(ascii: "\r")
                    {
                        if next == UInt8(ascii: "\n") { newline() } else { index += 1 }
                    }
                    continue
                }
                try escape(into: &out)
                continue
            }
            guard byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F) else { throw error("a control character in a string") }
            out.append(byte)
        }
    }

    /// After a backslash: `\b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX`.
    mutating func escape(into out: inout [UInt8]) throws(TOML.ParseError) {
        guard let byte = current else { throw error("a string ends in a backslash") }
        index += 1
        let simple: [UInt8: UInt8] = [
            UInt8(ascii: "b"): 0x08, UInt8(ascii: "t"): 0x09, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "f"): 0x0C,
            UInt8(ascii: "r"): 0x0D, UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C,
        ]
        if let replacement = simple[byte] {
            out.append(replacement)
            return
        }
        guard byte == UInt8(ascii: "u") || byte == UInt8(ascii: "U") else { throw error("unknown escape \\\(Character(Unicode.Scalar(byte)))") }
        let count = byte == UInt8(ascii: "u") ? 4 : 8
        guard index + count <= bytes.count, let code = UInt32(String(decoding: bytes[index..<index + count], as: UTF8.self), radix: 16),
            let scalar = Unicode.Scalar(code)
        else { throw error("\\\(Character(Unicode.Scalar(byte))) needs \(count) hex digits of a Unicode scalar") }
        index += count
        out.append(contentsOf: String(Character(scalar)).utf8)
    }
}
