import Foundation
import Testing
import VLANWireTestSupport

/// vlanwire's hook under a real libvirtd starting real (paused, TCG) guests: the sandboxed libvirtd
/// that scripts/test starts with vlanwire's hook bind-mounted as its hooks directory
/// (scripts/libvirtd-sandbox, VLANWIRE_HOOKS_DIR). Guests and their bridge live in the sandbox's
/// network namespace. This host's kernel has no 802.1Q: a guest whose NIC needs a VLAN leg must be
/// refused at prepare with vlanwire's message in `virsh start`'s error; a guest without a VLAN
/// policy starts and stops through the hook.
@Suite(
    "vlanwire's hook under a real libvirtd", .serialized,
    .enabled(
        if: SandboxHook.installed || ProcessInfo.processInfo.environment["VLANWIRE_EXPECT_HOOK"] != nil,
        "needs the sandboxed libvirtd started with vlanwire's hook (scripts/test does this: VLANWIRE_HOOKS_DIR=... scripts/libvirtd-sandbox start)"))
struct HookLibvirtdTests {
    let suffix = "\(getpid())"
    var bridge: String { "vwhk\(getpid() % 100_000)" }

    func domain(_ name: String, mac: String, metadata: String = "") -> String {
        """
        <domain type='qemu'>
          <name>\(name)</name>
          \(metadata.isEmpty ? "" : "<metadata><vw:vlans xmlns:vw='urn:vlanwire:1'>\(metadata)</vw:vlans></metadata>")
          <memory unit='MiB'>64</memory><vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type><kernel>\(SandboxHook.kernel)</kernel></os>
          <devices>
            <interface type='bridge'><mac address='\(mac)'/><source bridge='\(bridge)'/><model type='virtio'/></interface>
          </devices>
        </domain>
        """
    }

    /// Defines `xml`, runs `body`, then destroys and undefines whatever happened.
    func withGuest(_ name: String, _ xml: String, _ body: () throws -> Void) throws {
        let file = NSTemporaryDirectory() + "\(name).xml"
        try xml.write(toFile: file, atomically: true, encoding: .utf8)
        defer {
            _ = try? Subprocess.run("/usr/bin/virsh", ["-c", "qemu:///system", "destroy", name])
            _ = try? Subprocess.run("/usr/bin/virsh", ["-c", "qemu:///system", "undefine", name])
            try? FileManager.default.removeItem(atPath: file)
        }
        #expect(try Subprocess.run("/usr/bin/virsh", ["-c", "qemu:///system", "define", file]).status == 0)
        try body()
    }

    func withBridge(_ body: () throws -> Void) throws {
        #expect(SandboxHook.installed, "scripts/test started the sandbox, but vlanwire's hook is not its hooks directory")
        _ = try Subprocess.run("/usr/sbin/ip", ["-n", SandboxHook.namespace, "link", "add", bridge, "type", "bridge"])
        defer { _ = try? Subprocess.run("/usr/sbin/ip", ["-n", SandboxHook.namespace, "link", "del", bridge]) }
        _ = try Subprocess.run("/usr/sbin/ip", ["-n", SandboxHook.namespace, "link", "set", bridge, "up"])
        try body()
    }

    @Test func aGuestWithoutVLANPolicyStartsAndStopsThroughTheHook() throws {
        try withBridge {
            let name = "vwhook-plain-\(suffix)"
            try withGuest(name, domain(name, mac: "52:54:00:7e:00:01")) {
                let start = try Subprocess.run("/usr/bin/virsh", ["-c", "qemu:///system", "start", name, "--paused"])
                #expect(start.status == 0, "\(start)")
                let links = try Subprocess.run("/usr/sbin/ip", ["-n", SandboxHook.namespace, "-o", "link", "show", "master", bridge]).stdout
                #expect(links.contains("fe:54:00:7e:00:01"), "the guest's tap is in \(bridge): \(links)")
                #expect(try Subprocess.run("/usr/bin/virsh", ["-c", "qemu:///system", "destroy", name]).status == 0)
            }
        }
    }

    @Test func aGuestNeedingAVLANLegIsRefusedWithVlanwiresMessage() throws {
        try withBridge {
            let name = "vwhook-vlan-\(suffix)"
            let metadata = "<vw:interface mac='52:54:00:7e:00:02'><vw:vlan tags='5'/></vw:interface>"
            try withGuest(name, domain(name, mac: "52:54:00:7e:00:02", metadata: metadata)) {
                let before = try Subprocess.run("/usr/sbin/ip", ["-n", SandboxHook.namespace, "-o", "link"]).stdout
                let start = try Subprocess.run("/usr/bin/virsh", ["-c", "qemu:///system", "start", name, "--paused"])
                #expect(start.status != 0)
                #expect(start.stderr.contains("vlanwire: guest '\(name)', NIC 52:54:00:7e:00:02:"), "\(start)")
                #expect(start.stderr.contains("no 802.1Q VLAN support"), "\(start)")
                #expect(try Subprocess.run("/usr/bin/virsh", ["-c", "qemu:///system", "domstate", name]).stdout.contains("shut off"))
                let after = try Subprocess.run("/usr/sbin/ip", ["-n", SandboxHook.namespace, "-o", "link"]).stdout
                #expect(
                    Set(after.split(separator: "\n").map { $0.split(separator: ":")[1] })
                        == Set(before.split(separator: "\n").map { $0.split(separator: ":")[1] }), "no link left behind")
            }
        }
    }

    @Test func badMetadataIsRefusedBeforeAnythingHappens() throws {
        try withBridge {
            let name = "vwhook-bad-\(suffix)"
            let metadata = "<vw:interface mac='52:54:00:7e:00:03'><vw:vlan tags='4095'/></vw:interface>"
            try withGuest(name, domain(name, mac: "52:54:00:7e:00:03", metadata: metadata)) {
                let start = try Subprocess.run("/usr/bin/virsh", ["-c", "qemu:///system", "start", name, "--paused"])
                #expect(start.status != 0)
                #expect(
                    start.stderr.contains("vlanwire: guest '\(name)', NIC 52:54:00:7e:00:03: vlanwire metadata: invalid VLAN set '4095'"), "\(start)")
            }
        }
    }
}

/// Facts about the sandboxed libvirtd (scripts/libvirtd-sandbox).
enum SandboxHook {
    static let namespace = ProcessInfo.processInfo.environment["VLANWIRE_NETNS"] ?? "vwlibvirt"

    /// The sandbox records the hooks directory it bind-mounted; vlanwire's hook must be its qemu.
    static let installed: Bool = {
        guard let directory = try? String(contentsOfFile: "/run/vlanwire-sandbox/hooks-dir", encoding: .utf8),
            let hook = try? String(contentsOfFile: directory.trimmingCharacters(in: .whitespacesAndNewlines) + "/qemu", encoding: .utf8)
        else { return false }
        return (hook.contains("vlanwire hook qemu") || hook.contains("vlanwire-hook")) && libvirtdReachable
    }()

    /// A kernel for the guests (kernel-only boot, no disk): the lab's Debian kernel.
    static let kernel: String = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/boot")) ?? []
        return "/boot/" + (names.filter { $0.hasPrefix("vmlinuz-") }.sorted().last ?? "vmlinuz")
    }()
}
