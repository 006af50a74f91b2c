import Testing
import VLANWire
import VLANWireTestSupport

/// Every crash the fuzzers found (scripts/fuzz), kept as a test; and the pre-scan that keeps
/// toml++'s assertions out of the process.
@Suite("Fuzzer findings")
struct FuzzRegressionTests {
    /// FuzzConfig, first minute: `\n[\n` made toml++ abort (`parse_key(): Assertion
    /// is_bare_key_character(*cp) || is_string_delimiter(*cp)' failed`) — a table header whose key
    /// is missing. Variants: spaces, tabs, `[[`, a non-breaking space toml++ skips as whitespace.
    @Test(arguments: ["\n[\n", "[", "[\n", "[ \n", "[\t\n", "[[\n", "[[ \n", "a = 1\n[\u{00A0}\n", "[ #x\n", "[ =\n", "[[]]\n", "[]\n"])
    func aTableHeaderWithoutAKeyIsRefusedBeforeTOMLKit(_ text: String) throws {
        #expect(TOMLPreScanProbe.refuses(text), "pre-scan lets \(text.debugDescription) through")
        do {
            _ = try HostConfig(toml: text, path: "t.toml")
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.description.contains("t.toml"), "\(error)")
        }
    }

    /// What must still reach toml++ untouched: headers with keys, arrays of values on their own
    /// lines, brackets inside strings and comments.
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
    func wellFormedTOMLIsNotRefusedByThePreScan(_ text: String) {
        #expect(!TOMLPreScanProbe.refuses(text), "pre-scan refuses \(text.debugDescription)")
    }

    /// toml++ recurses into nested arrays and inline tables: bounded before it sees them.
    @Test func deepNestingIsRefusedBeforeTOMLKit() throws {
        let text = "a = " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n"
        #expect(TOMLPreScanProbe.refuses(text))
    }
}

/// The pre-scan is internal to VLANWire: observed through the error it produces.
enum TOMLPreScanProbe {
    static func refuses(_ text: String) -> Bool {
        do {
            _ = try HostConfig(toml: text, path: "t.toml")
            return false
        } catch {
            return error.description.contains("table header needs a key") || error.description.contains("nested deeper")
        }
    }
}
