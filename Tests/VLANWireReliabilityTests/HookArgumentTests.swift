import Foundation
import Testing
import VLANWire
import VLANWireTestSupport

/// Everything after `vlanwire hook qemu` is libvirt's: guest names that look like options (`-h`,
/// `--help`, `-x`, `--`), with spaces, or 200 bytes of UTF-8 are guests, wired like any other.
/// Before, a guest named `-h` got the help text and exit 0 at prepare (it started unwired) and one
/// named `-x` failed its migration with "Unknown option".
extension Reliability {
    @Suite("libvirt's hook arguments are never options", .enabled(if: Host.canRunBinary, Host.binaryComment), .serialized)
    struct HookArgumentTests {
        static let mac = "52:54:00:00:00:01"

        static let names: [String] = [
            "-h", "--help", "-x", "--", "web 1 (spaces)",
            // 200 bytes of UTF-8: 100 two-byte letters.
            String(repeating: "é", count: 100),
        ]

        /// A guest whose NIC is a full trunk on classic br0 (what this kernel's bridges can enforce):
        /// `start` must move its tap from br1 into br0.
        static func domain(_ name: String) -> [UInt8] {
            let escaped = name.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            return Array(
                """
                <domain type='kvm'><name>\(escaped)</name>
                <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='\(mac)'><vw:vlan trunk='yes' tags='1-4094'/></vw:interface></vw:vlans></metadata>
                <devices><interface type='bridge'><mac address='\(mac)'/><source bridge='br0'/><target dev='vnet0'/></interface></devices>
                </domain>
                """.utf8)
        }

        /// Through both entry points: `vlanwire-hook` (what hooks/qemu execs) and `vlanwire hook qemu`.
        @Test(arguments: names, [Binary.lean, Binary.vlanwire])
        func aGuestNamedLikeAnOptionIsWiredAndReleased(_ name: String, _ binary: String) throws {
            #expect(name.utf8.count <= 200)
            try withScene { scene in
                try scene.ip("link", "add", "br0", "type", "bridge")
                try scene.ip("link", "add", "br1", "type", "bridge")
                try scene.tap("vnet0", mac: Self.mac, in: "br1")
                let xml = Self.domain(name)

                let prepare = try scene.hook(guest: name, "prepare", xml: xml, config: nil, binary: binary)
                #expect(prepare.status == 0 && prepare.stdout.isEmpty && prepare.stderr.isEmpty, "\(prepare)")
                #expect(!prepare.stdout.contains("USAGE") && !prepare.stderr.contains("option"), "\(prepare)")

                let start = try scene.hook(guest: name, "start", xml: xml, config: nil, binary: binary)
                #expect(start.status == 0 && start.stdout.isEmpty, "\(start)")
                #expect(try scene.snapshot().link(named: "vnet0")?.master == "br0", "start wired guest '\(name)': its tap is in br0")
                #expect(try storedState(scene.stateDirectory).guest(named: name)?.nics.first?.tap?.rawValue == "vnet0")

                // migrate is a filter: the XML comes back byte for byte, exit 0.
                let migrate = try scene.hook(guest: name, "migrate", xml: xml, config: nil, binary: binary)
                #expect(migrate.status == 0, "\(migrate)")
                #expect(Array(migrate.stdout.utf8) == xml, "migrate echoes the domain XML unchanged")

                let release = try scene.hook(guest: name, "release", xml: xml, config: nil, binary: binary)
                #expect(release.status == 0 && release.stdout.isEmpty, "\(release)")
                #expect(try storedState(scene.stateDirectory).guest(named: name) == nil, "release forgot '\(name)'")
            }
        }

        /// The config is read only when there is something to wire: with a missing config file, a
        /// guest without a bridge NIC starts and an unknown guest's release exits 0, while a guest
        /// with one is refused, naming the file.
        @Test func theConfigIsReadOnlyWhenSomethingIsToBeWired() throws {
            try withScene { scene in
                let missing = ["VLANWIRE_CONFIG": "/nonexistent/vlanwire.toml"]
                let bare = Array("<domain type='kvm'><name>plain</name><devices></devices></domain>".utf8)
                let plain = try scene.hook(guest: "plain", "prepare", xml: bare, config: nil, extra: missing, binary: Binary.lean)
                #expect(plain.status == 0 && plain.stderr.isEmpty, "\(plain)")
                let release = try scene.hook(guest: "plain", "release", xml: bare, config: nil, extra: missing, binary: Binary.lean)
                #expect(release.status == 0 && release.stderr.isEmpty, "\(release)")
                let wired = try scene.hook(guest: "web", "prepare", xml: Self.domain("web"), config: nil, extra: missing, binary: Binary.lean)
                #expect(wired.status == 1 && wired.stderr.contains("/nonexistent/vlanwire.toml"), "\(wired)")
            }
        }

        /// `vlanwire hook --help` is still help: only `hook qemu ...` is libvirt's call.
        @Test func helpOfTheHookCommandItselfStillWorks() throws {
            let run = try Subprocess.run(Binary.vlanwire, ["hook", "--help"])
            #expect(run.status == 0 && run.stdout.contains("USAGE: vlanwire hook"), "\(run)")
        }
    }
}
