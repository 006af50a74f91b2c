import Testing
import VLANWire
import VLANWireTestSupport

/// Every crash the fuzzers found (scripts/fuzz), kept as a test. The config's first crashes were
/// toml++'s assertions (TOMLKit); vlanwire's own TOML reader must refuse the same inputs clearly.
@Suite("Fuzzer findings")
struct FuzzRegressionTests {
    /// FuzzConfig, first minute: `\n[\n` made toml++ abort (`parse_key(): Assertion
    /// is_bare_key_character(*cp) || is_string_delimiter(*cp)' failed`) — a table header whose key
    /// is missing. Variants: spaces, tabs, `[[`, a non-breaking space (not TOML whitespace).
    @Test(arguments: ["\n[\n", "[", "[\n", "[ \n", "[\t\n", "[[\n", "[[ \n", "a = 1\n[\u{00A0}\n", "[ #x\n", "[ =\n", "[[]]\n", "[]\n"])
    func aTableHeaderWithoutAKeyIsRefused(_ text: String) throws {
        #expect(TOMLProbe.refuses(text), "\(text.debugDescription) is not refused as a header without a key")
        do {
            _ = try HostConfig(toml: text, path: "t.toml")
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.description.contains("t.toml"), "\(error)")
        }
    }

    /// What the reader must read: headers with keys, arrays of values on their own lines, brackets
    /// inside strings and comments.
    @Test(arguments: [
        "[[uplink]]\ninterface = \"eth0\"\n",
        "[ \"quoted\" ]\n",
        "a = [\n  [ 1 ],\n  [\n  2 ]\n]\n",
        "a = \"[\"\n[b]\n",
        "# [\n[c]\n",
        "a = '''\n[\n'''\n",
        "a = \"\"\"\n[\n\"\"\"\n",
        "x = { y = [ 1 ] }\n",
    ])
    func wellFormedTOMLIsRead(_ text: String) {
        #expect(!TOMLProbe.refuses(text), "refuses \(text.debugDescription)")
    }

    /// The reader recurses into nested arrays and inline tables: bounded.
    @Test func deepNestingIsRefused() throws {
        let text = "a = " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n"
        #expect(TOMLProbe.refuses(text))
    }
}

/// The TOML reader is internal to VLANWire: observed through the error it produces.
enum TOMLProbe {
    static func refuses(_ text: String) -> Bool {
        do {
            _ = try HostConfig(toml: text, path: "t.toml")
            return false
        } catch {
            return error.description.contains("table header needs a key") || error.description.contains("nested deeper")
        }
    }
}
