import Foundation
import Testing
import VLANWire
import VLANWireTestSupport

/// Issue 9, part 1: a corpus of bad (and one big valid) inputs, each through `vlanwire plan`,
/// `vlanwire apply --netns` and `vlanwire hook qemu` (the built binary, as a subprocess): its own
/// clear error naming guest, MAC and cause; exit 1; no hang (Reliability.hangBound); the namespace unchanged.
extension Reliability {
    @Suite("Bad input through plan, apply and the hook", .enabled(if: Host.canRunBinary, Host.binaryComment), .serialized)
    struct BadInputTests {
        struct Case: Sendable, CustomTestStringConvertible {
            var label: String
            var xml: [UInt8]
            /// Every one must appear in stderr (the cause, and the MAC when a NIC is at fault).
            var expected: [String]
            /// For errors found before the XML names the guest: the guest label is the file (plan,
            /// apply) or libvirt's argument (hook).
            var namesGuestFromXML = true
            var testDescription: String { label }
        }

        static let mac = "52:54:00:00:00:01"

        static func domain(name: String = "web1", metadata: String = "", interface: String? = nil) -> String {
            let nic = interface ?? "<interface type='bridge'><mac address='\(mac)'/><source bridge='br0'/></interface>"
            let meta = metadata.isEmpty ? "" : "<metadata><vw:vlans xmlns:vw='urn:vlanwire:1'>\(metadata)</vw:vlans></metadata>"
            return "<domain type='kvm'><name>\(name)</name>\(meta)<devices>\(nic)</devices></domain>"
        }

        static func vlan(_ attributes: String, mac: String = mac) -> String {
            "<vw:interface mac='\(mac)'><vw:vlan \(attributes)/></vw:interface>"
        }

        static func nic(target: String? = nil, bridge: String = "br0") -> String {
            "<interface type='bridge'><mac address='\(mac)'/><source bridge='\(bridge)'/>"
                + (target.map { "<target dev='\($0)'/>" } ?? "") + "</interface>"
        }

        static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

        static let cases: [Case] = {
            var cases: [Case] = []
            func add(_ label: String, _ xml: [UInt8], _ expected: [String], fromXML: Bool = true) {
                cases.append(Case(label: label, xml: xml, expected: expected, namesGuestFromXML: fromXML))
            }
            let good = domain(metadata: vlan("tags='5'"))
            add("malformed: unclosed element", bytes("<domain><name>web1</name><devices></domain>"), ["XML line"], fromXML: false)
            add("malformed: attribute without quotes", bytes("<domain type=kvm><name>web1</name></domain>"), ["XML line"], fromXML: false)
            add("malformed: two roots", bytes(good + good), ["XML line"], fromXML: false)
            add("truncated at half", Array(bytes(good).prefix(good.utf8.count / 2)), ["XML line"], fromXML: false)
            add("truncated inside a tag", Array(bytes(good).prefix(7)), ["XML line"], fromXML: false)
            add(
                "external entity to a host file",
                bytes("<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/shadow'>]><domain><name>&x;</name></domain>"),
                ["DOCTYPE"], fromXML: false)
            let laughs =
                "<!DOCTYPE lolz [<!ENTITY lol 'lol'>"
                + (1...9).map { level in
                    "<!ENTITY lol\(level) '" + String(repeating: "&lol\(level == 1 ? "" : String(level - 1));", count: 10) + "'>"
                }.joined() + "]><domain><name>&lol9;</name></domain>"
            add("billion laughs", bytes(laughs), ["DOCTYPE"], fromXML: false)
            add("undefined entity reference", bytes("<domain><name>&lol;</name></domain>"), ["XML line"], fromXML: false)
            var huge = bytes("<domain><name>web1</name><description>")
            huge += [UInt8](repeating: UInt8(ascii: "a"), count: 60 << 20)
            huge += bytes("</description></domain>")
            add("60 MB document", huge, ["bytes"], fromXML: false)
            add("non-UTF-8 bytes", bytes("<domain><name>web") + [0xFF, 0xFE] + bytes("</name></domain>"), ["UTF-8"], fromXML: false)
            add("overlong UTF-8", bytes("<domain><name>web") + [0xC0, 0xAF] + bytes("</name></domain>"), ["UTF-8"], fromXML: false)
            add("empty input", [], ["empty"], fromXML: false)
            add("NUL byte", bytes("<domain><name>web1") + [0] + bytes("</name></domain>"), ["XML line"], fromXML: false)
            add("deep nesting", bytes(String(repeating: "<a>", count: 100_000)), ["XML line"], fromXML: false)
            add("not a domain", bytes("<network><name>web1</name></network>"), ["not <domain>"], fromXML: false)
            for bad in ["0", "4095", "-1", "99999", "5a", "", " ", "1,,2", "0x5", "１"] {
                add("VLAN '\(bad)'", bytes(domain(metadata: vlan("tags='\(bad)'"))), [mac, "VLAN"])
            }
            add("range 20-10", bytes(domain(metadata: vlan("trunk='yes' tags='20-10'"))), [mac, "20-10"])
            add("native VLAN 4095", bytes(domain(metadata: vlan("trunk='yes' tags='1,5' native='4095'"))), [mac, "4095"])
            add("libvirt-style tag id 0", bytes(domain(metadata: "<vw:interface mac='\(mac)'><vw:tag id='0'/></vw:interface>")), [mac, "0"])
            add("trunk='maybe'", bytes(domain(metadata: vlan("trunk='maybe' tags='5'"))), [mac, "maybe"])
            let badNames: [(String, String)] = [
                ("16 bytes", "abcdefghijklmnop"), ("slash", "vnet/0"), ("dot-dot", ".."), ("space", "vnet 0"),
                ("newline", "vnet&#10;0"), ("semicolon", "a;reboot"), ("command substitution", "$(reboot)"),
                ("backtick", "`id`"), ("pipe", "a|b"), ("glob", "vnet*"),
            ]
            for (label, bad) in badNames {
                add("target dev with \(label)", bytes(domain(interface: nic(target: bad))), [mac, "target dev"])
                add("source bridge with \(label)", bytes(domain(metadata: vlan("tags='5'"), interface: nic(bridge: bad))), [mac, "source bridge"])
            }
            add("two metadata entries for one MAC", bytes(domain(metadata: vlan("tags='5'") + vlan("tags='10'"))), [mac, "two entries"])
            // A MAC the guest lacks is a pending policy (hot-plug), checked like any other.
            add(
                "a bad pending policy (a MAC the guest lacks)", bytes(domain(metadata: vlan("tags='4095'", mac: "52:54:00:00:00:99"))),
                ["52:54:00:00:00:99", "4095"])
            add("malformed MAC in metadata", bytes(domain(metadata: vlan("tags='5'", mac: "52:54:00:zz:00:01"))), ["52:54:00:zz:00:01"])
            add(
                "malformed MAC on the NIC",
                bytes(domain(interface: "<interface type='bridge'><mac address='nonsense'/><source bridge='br0'/></interface>")),
                ["nonsense"])
            return cases
        }()

        /// Config for every run: classic br0 over eth0 carrying 1-4094, so a full trunk is valid.
        static let config = "[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nmode = \"classic\"\nvlans = \"1-4094\"\n"

        func scene(_ body: (Scene, String) throws -> Void) throws {
            try withScene { scene in
                try scene.ip("link", "add", "eth0", "type", "veth", "peer", "name", "sw0")
                try scene.ip("link", "add", "br0", "type", "bridge")
                try scene.ip("link", "set", "eth0", "master", "br0")
                try scene.ip("link", "add", "br1", "type", "bridge")
                try scene.tap("vnet0", mac: Self.mac, in: "br1")
                let config = try temporaryFile("vlanwire.toml", Array(Self.config.utf8))
                defer { unlink(config) }
                try body(scene, config)
            }
        }

        /// One case through all three entry points; returns how many runs it made.
        func check(_ input: Case, scene: Scene, config: String) throws -> Int {
            let file = try temporaryFile("domain.xml", input.xml)
            defer { unlink(file) }
            let before = try scene.snapshot()
            let environment = ["VLANWIRE_CONFIG": config, "VLANWIRE_STATE_DIR": scene.stateDirectory]
            let runs: [(String, ProcessRun, String)] = [
                (
                    "plan",
                    try Subprocess.run(
                        Binary.vlanwire, ["plan", file, "--op", "prepare"], environment: environment, cleanEnvironment: true,
                        timeout: Reliability.hangBound), input.namesGuestFromXML ? "web1" : file
                ),
                (
                    "apply",
                    try Subprocess.run(
                        Binary.vlanwire, ["apply", file, "--netns", scene.name], environment: environment, cleanEnvironment: true,
                        timeout: Reliability.hangBound), input.namesGuestFromXML ? "web1" : file
                ),
                ("hook prepare", try scene.hook(guest: "web1", "prepare", xml: input.xml, config: config, timeout: Reliability.hangBound), "web1"),
                ("hook start", try scene.hook(guest: "web1", "start", xml: input.xml, config: config, timeout: Reliability.hangBound), "web1"),
            ]
            for (entry, result, guest) in runs {
                let context = "\(input.label) via \(entry)"
                #expect(!result.timedOut, "\(context): hung")
                #expect(result.status == 1, "\(context): exit \(result.status), stderr \(result.stderr)")
                #expect(!result.stderrLines.isEmpty, "\(context): no error")
                #expect(result.stderr.contains("guest '\(guest)'"), "\(context): the guest is not named: \(result.stderr)")
                for expected in input.expected {
                    #expect(result.stderr.contains(expected), "\(context): '\(expected)' missing from: \(result.stderr)")
                }
                // No backtrace, no multi-page dump: one line per problem, each naming the guest.
                for line in result.stderrLines {
                    #expect(line.contains("guest '"), "\(context): stray stderr line: \(line)")
                }
                #expect(result.stdout.isEmpty || entry == "plan" || entry == "apply", "\(context): stdout \(result.stdout)")
            }
            let after = try scene.snapshot()
            #expect(after == before, "\(input.label): the namespace changed:\n\(differences(before, after))")
            return runs.count
        }

        @Test func everyBadInputIsRefusedClearlyQuicklyAndChangesNothing() throws {
            var runs = 0
            try scene { scene, config in
                for input in Self.cases { runs += try check(input, scene: scene, config: config) }
            }
            // Nothing was recorded for a refused guest.
            Figures.report("bad inputs tried", Self.cases.count)
            Figures.report("bad-input runs (plan, apply --netns, hook prepare, hook start)", runs)
            #expect(runs == Self.cases.count * 4)
        }

        /// The same XML on the release path never fails (libvirt must be able to stop the guest) and
        /// deletes nothing.
        @Test func releaseOfABadInputExitsZeroAndChangesNothing() throws {
            try scene { scene, config in
                let before = try scene.snapshot()
                for input in Self.cases where input.xml.count < 1 << 20 {
                    for operation in ["stopped", "release", "reconnect"] {
                        let result = try scene.hook(guest: "web1", operation, xml: input.xml, config: config, timeout: Reliability.hangBound)
                        #expect(result.status == 0, "\(input.label) via hook \(operation): exit \(result.status) \(result.stderr)")
                        #expect(!result.timedOut, "\(input.label) via hook \(operation): hung")
                    }
                }
                #expect(try scene.snapshot() == before)
            }
        }

        /// Valid and large: a trunk of every VLAN written as 4,094 single ids is planned and applied fast.
        @Test func aTrunkOf4094SingleTagsIsAcceptedFast() throws {
            let tags = (1...4094).map(String.init).joined(separator: ",")
            let xml = Self.bytes(Self.domain(metadata: Self.vlan("trunk='yes' tags='\(tags)'"), interface: Self.nic(target: "vnet0")))
            try scene { scene, config in
                let file = try temporaryFile("trunk.xml", xml)
                defer { unlink(file) }
                let plan = try Subprocess.run(
                    Binary.vlanwire, ["plan", file, "--op", "prepare"], environment: ["VLANWIRE_CONFIG": config], cleanEnvironment: true,
                    timeout: Reliability.hangBound)
                #expect(plan.status == 0, "\(plan.stderr)")
                #expect(plan.stdout.contains("1-4094"), "\(plan.stdout)")
                #expect(!plan.timedOut, "plan hung")
                let start = try scene.hook(guest: "web1", "start", xml: xml, config: config, timeout: Reliability.hangBound)
                #expect(start.status == 0, "\(start.stderr)")
                #expect(!start.timedOut, "hook start hung")
                #expect(try scene.snapshot().link(named: "vnet0")?.master == "br0")
                #expect(try storedState(scene.stateDirectory).guest(named: "web1")?.nics.first?.policy == .trunk(tagged: .all, native: nil))
            }
        }

        /// Bad config files reach the user as one line and exit 1 at prepare, exit 0 at release.
        @Test func badConfigFilesAreRefusedWithoutCrashing() throws {
            let configs: [(String, [UInt8])] = [
                ("not TOML", Array("[[uplink]\ninterface = ".utf8)),
                ("non-UTF-8", [0x5B, 0xFF, 0x5D]),
                ("bad VLAN", Array("[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nvlans = \"0-5000\"\n".utf8)),
                ("bad link name", Array("[[uplink]]\ninterface = \"eth0;reboot\"\n".utf8)),
                ("empty table name", Array("[]\n".utf8)),
                (
                    "deep inline tables",
                    Array(("a = " + String(repeating: "{b = ", count: 5000) + "1" + String(repeating: "}", count: 5000) + "\n").utf8)
                ),
                ("deep arrays", Array(("a = " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n").utf8)),
            ]
            let xml = Self.bytes(Self.domain(metadata: Self.vlan("trunk='yes' tags='1-4094'")))
            try scene { scene, _ in
                let before = try scene.snapshot()
                for (label, bytes) in configs {
                    let config = try temporaryFile("bad.toml", bytes)
                    defer { unlink(config) }
                    let prepare = try scene.hook(guest: "web1", "prepare", xml: xml, config: config, timeout: Reliability.hangBound)
                    #expect(prepare.status == 1, "\(label): \(prepare.stderr)")
                    #expect(prepare.stderrLines.count == 1, "\(label): \(prepare.stderr)")
                    #expect(prepare.stderr.contains(config), "\(label): the file is not named: \(prepare.stderr)")
                    #expect(prepare.stderr.hasPrefix("vlanwire: guest 'web1': config "), "\(label): the guest is not named: \(prepare.stderr)")
                    let release = try scene.hook(guest: "web1", "release", xml: xml, config: config, timeout: Reliability.hangBound)
                    #expect(release.status == 0, "\(label): \(release.stderr)")
                }
                #expect(try scene.snapshot() == before)
            }
        }
    }
}
