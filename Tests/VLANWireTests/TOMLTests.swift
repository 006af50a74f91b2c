import Testing
import VLANWireTestSupport

@testable import VLANWire

/// vlanwire's TOML reader (the config's): what TOML 1.0 writes, read as written; what is not TOML,
/// refused with its line and column.
@Suite("TOML reader")
struct TOMLTests {
    func parse(_ text: String) throws -> TOML.Table { try TOML.parse(text) }

    func refusal(_ text: String) -> TOML.ParseError? {
        do {
            _ = try TOML.parse(text)
            return nil
        } catch { return error }
    }

    @Test func readsTheConfigsShapes() throws {
        let table = try parse(
            """
            # vlanwire
            [[uplink]]
            interface = "eth0"   # the NIC
            native-vlan = 1
            stp = true
            forward-delay = 1_500

            [[uplink]]
            interface = 'eth1'

            [[network]]
            name = "lan"
            portgroups = { office = "10", router = "trunk:1,5,10-20 native:1", voip = 20 }
            """)
        let uplinks = try #require(table["uplink"]?.array)
        #expect(uplinks.count == 2)
        #expect(uplinks[0].table?["interface"] == .string("eth0"))
        #expect(uplinks[0].table?["native-vlan"] == .integer(1))
        #expect(uplinks[0].table?["stp"] == .boolean(true))
        #expect(uplinks[0].table?["forward-delay"] == .integer(1500))
        #expect(uplinks[1].table?["interface"] == .string("eth1"))
        let portgroups = try #require(table["network"]?.array?.first?.table?["portgroups"]?.table)
        #expect(portgroups.keys == ["office", "router", "voip"])
        #expect(portgroups["voip"] == .integer(20))
    }

    @Test func stringsKeysAndNumbers() throws {
        let table = try parse(
            #"""
            basic = "tab\there \"quoted\" \\ \u00e9 \U0001F600"
            literal = 'C:\path\no-escapes'
            multi = """
            one
            two \
                joined"""
            multiLiteral = '''
            raw \n'''
            quotes = """a""""
            "quoted key" = 1
            a.b.c = 2
            a.b.d = 3
            hex = 0xff
            octal = 0o17
            binary = 0b101
            negative = -42
            plus = +7
            empty = []
            nested = [[1, 2], ["x"], [], { k = true }]
            trailing = [
              1,   # one
              2,
            ]
            """#)
        #expect(table["basic"] == .string("tab\there \"quoted\" \\ é 😀"))
        #expect(table["literal"] == .string(#"C:\path\no-escapes"#))
        #expect(table["multi"] == .string("one\ntwo joined"))
        #expect(table["multiLiteral"] == .string("raw \\n"))
        #expect(table["quotes"] == .string("a\""))
        #expect(table["quoted key"] == .integer(1))
        #expect(table["a"]?.table?["b"]?.table?["c"] == .integer(2))
        #expect(table["a"]?.table?["b"]?.table?["d"] == .integer(3))
        #expect(table["hex"] == .integer(255) && table["octal"] == .integer(15) && table["binary"] == .integer(5))
        #expect(table["negative"] == .integer(-42) && table["plus"] == .integer(7))
        #expect(table["empty"] == .array([]))
        #expect(table["nested"]?.array?.count == 4)
        #expect(table["trailing"] == .array([.integer(1), .integer(2)]))
    }

    @Test func headersNestAndCRLFLinesAreLines() throws {
        let table = try parse("[a.b]\r\nx = 1\r\n[a]\r\ny = 2\r\n[[a.c]]\r\nz = 3\r\n[[a.c]]\r\n")
        #expect(table["a"]?.table?["b"]?.table?["x"] == .integer(1))
        #expect(table["a"]?.table?["y"] == .integer(2))
        #expect(table["a"]?.table?["c"]?.array?.count == 2)
    }

    @Test(arguments: [
        ("a = 1\na = 2", 2, "defined twice"),
        ("[t]\n[t]", 2, "defined twice"),
        ("a = 1\n[a]", 2, "defined twice"),
        ("a = [1]\n[[a]]", 2, "already defined"),
        ("t = { x = 1 }\n[t]", 2, "defined twice"),
        ("t = { x = 1 }\nt.y = 2", 2, "not a table"),
        ("a = 1.5", 1, "not an integer"),
        ("a = 1979-05-27", 1, "not an integer"),
        ("a = 1-20", 1, "text goes in quotes"),
        ("a = 012", 1, "not an integer"),
        ("a = 1__0", 1, "not an integer"),
        ("a = 99999999999999999999", 1, "not an integer"),
        ("a = inf", 1, "floating-point"),
        ("a = \"open", 1, "not closed"),
        ("a = \"\\x\"", 1, "unknown escape"),
        ("a = \"\\uD800\"", 1, "Unicode scalar"),
        ("a = \"\u{01}\"", 1, "control character"),
        ("a = { x = 1,\n y = 2 }", 1, "inline table"),
        ("a = { x = 1, }", 1, "expected a key"),
        ("a = [1 2]", 1, "expected , or ]"),
        ("a = tru", 1, "expected a value"),
        ("a = truex", 1, "expected a value"),
        ("a 1", 1, "expected ="),
        ("= 1", 1, "expected a key"),
        ("a = 1 b = 2", 1, "end of the line"),
        ("\n\n[[uplink]\n", 3, "expected ]]"),
        ("a = \"\"\"\nopen", 2, "not closed"),
        ("a = 1\rb = 2", 1, "end of the line"),
        ("[\"\"\"k\"\"\"]", 1, "multi-line"),
    ])
    func refusesWithTheLine(_ text: String, _ line: Int, _ expected: String) throws {
        let error = try #require(refusal(text), "accepted \(text.debugDescription)")
        #expect(error.line == line, "\(error)")
        #expect(error.description.contains(expected), "\(error)")
    }

    @Test func nestingIsBounded() {
        let deep = "a = " + String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(refusal(deep)?.message.contains("nested deeper than 64") == true)
        let fine = "a = " + String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(refusal(fine) == nil)
    }
}
