import Foundation
import Testing
import VLANWire
import VLANWireTestSupport

/// `vlanwire watch` (the binary, as the service runs it) against the real, sandboxed libvirtd and a
/// real (paused, TCG) guest, inside libvirtd's network namespace with a state directory of its own.
/// It watches only this test's guest (`--guest`): other suites start guests in the same libvirtd
/// meanwhile, and drift some on purpose. This kernel has no 802.1Q and no vlan_filtering, so the
/// repairs here are a tap moved between bridges, a hot-plugged NIC recorded with its pending
/// policy, and a refused live policy change; port VLANs and fail-closed are the lab's
/// (Tests/Lab/scenarios/26-watch.sh).
@Suite(
    "vlanwire watch on a real libvirtd", .serialized,
    .enabled(
        if: sandboxedLibvirtd != nil,
        "needs libvirtd in a network namespace of its own (scripts/libvirtd-sandbox start), to start a guest without touching the host's network"),
    .enabled(if: Binary.isBuilt, "\(Binary.missing)")
)
struct LibvirtdWatchTests {
    let tag = "\(getpid() % 100_000)"
    var guest: String { "vwt\(tag)-watch" }
    var bridgeA: String { "vwwa\(tag)" }
    var bridgeB: String { "vwwb\(tag)" }
    let first = "52:54:00:7e:00:01"
    /// Not in the guest at start: its policy is pending until `virsh attach-interface` adds it.
    let second = "52:54:00:7e:00:02"
    var netns: String { sandboxedLibvirtd!.netns }

    @discardableResult
    func ip(_ arguments: String...) throws -> ProcessRun {
        let run = try Subprocess.run("/usr/bin/nsenter", ["--net=\(netns)", "ip"] + arguments)
        try #require(run.status == 0, "ip \(arguments.joined(separator: " ")): \(run)")
        return run
    }

    func master(of tap: String) throws -> String? {
        let text = try ip("-j", "link", "show", "dev", tap).stdout
        let links = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
        return links?.first?["master"] as? String
    }

    /// The tap libvirt made for `mac` (fe:..), by asking the kernel (a bridge takes its lowest
    /// port's MAC, so only tun links count).
    func tap(of mac: String) throws -> String? {
        let text = try ip("-d", "-j", "link", "show").stdout
        let links = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
        return links.first { link in
            (link["address"] as? String) == "fe" + mac.dropFirst(2)
                && ((link["linkinfo"] as? [String: Any])?["info_kind"] as? String) == "tun"
        }?["ifname"] as? String
    }

    /// Polls `condition` every 50 ms for up to `seconds`; returns how long it took, or nil.
    func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if try condition() { return Date().timeIntervalSince(start) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    @Test func repairsDriftRecordsAHotPlugAndReportsARefusedLivePolicy() throws {
        let state = try TemporaryDirectory()
        for bridge in [bridgeA, bridgeB] {
            try ip("link", "add", bridge, "type", "bridge")
            try ip("link", "set", bridge, "up")
        }
        defer { for bridge in [bridgeA, bridgeB] { _ = try? Subprocess.run("/usr/bin/nsenter", ["--net=\(netns)", "ip", "link", "del", bridge]) } }
        let metadata = """
            <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'>\
            <vw:interface mac='\(first)'><vw:vlan trunk='yes' tags='1-4094'/></vw:interface>\
            <vw:interface mac='\(second)'><vw:vlan trunk='yes' tags='1-4094'/></vw:interface>\
            </vw:vlans></metadata>
            """
        // <acpi/>: the pc machine hot-plugs PCI devices only with ACPI.
        let file = try state.write(
            "\(guest).xml",
            """
            <domain type='qemu'>
              <name>\(guest)</name>\(metadata)
              <memory unit='MiB'>64</memory><vcpu>1</vcpu><features><acpi/></features>
              <os><type arch='x86_64' machine='pc'>hvm</type><kernel>\(SandboxHook.kernel)</kernel></os>
              <devices><interface type='bridge'><mac address='\(first)'/><source bridge='\(bridgeA)'/><model type='virtio'/></interface></devices>
            </domain>
            """)
        _ = try virsh("define", file)
        defer { _ = try? virsh("undefine", guest) }
        _ = try virsh("start", guest, "--paused")
        defer { _ = try? virsh("destroy", guest) }

        // watch, as the service runs it, in libvirtd's namespace.
        let log = state.path + "/watch.log"
        #expect(FileManager.default.createFile(atPath: log, contents: nil))
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        watch.arguments = ["--net=\(netns)", Binary.vlanwire, "watch", "--guest", guest, "--connect", libvirtdURI]
        watch.environment = ProcessInfo.processInfo.environment.merging(["VLANWIRE_STATE_DIR": state.path + "/state"]) { $1 }
        watch.standardOutput = output
        watch.standardError = output
        try watch.run()
        defer { if watch.isRunning { watch.terminate() } }
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        try #require(eventually { logText().contains("reconciled 1 running guest(s)") } != nil, "watch started: \(logText())")
        let status = try #require(FileManager.default.contents(atPath: state.path + "/state/watch.json"))
        #expect(String(decoding: status, as: UTF8.self).contains("\"libvirt\" : \"connected\""))

        // Drift: the tap moved to bridge B by hand; watch moves it back.
        let firstTap = try #require(try tap(of: first))
        #expect(try master(of: firstTap) == bridgeA)
        try ip("link", "set", firstTap, "master", bridgeB)
        let back = try eventually { try master(of: firstTap) == bridgeA }
        #expect(back != nil, "the tap is back in \(bridgeA): \(logText())")
        print("vlanwire-watch: tap moved by hand, back in its bridge after \(back.map { String(format: "%.3f", $0) } ?? "never") s")
        #expect(
            logText().contains(
                "repaired guest '\(guest)', NIC \(first) (\(firstTap)), trunk:1-4094: tap \(firstTap) is in \(bridgeB); its policy trunk:1-4094 needs \(bridgeA) -> ip link set \(firstTap) master \(bridgeA)"
            ),
            "one line: guest, MAC, tap, what changed, what was done: \(logText())")

        // Hot-plug: the second NIC, whose policy was pending, is wired and recorded.
        _ = try virsh("attach-interface", guest, "bridge", bridgeB, "--mac", second, "--model", "virtio", "--live")
        let recorded = eventually {
            guard let stored = try? storedState(state.path + "/state") else { return false }
            return stored.guest(named: guest)?.nics.contains { $0.mac.description == second && $0.tap != nil } == true
        }
        #expect(recorded != nil, "the hot-plugged NIC is recorded with its tap: \(logText())")
        let secondTap = try #require(try tap(of: second))
        #expect(try master(of: secondTap) == bridgeB, "a full trunk on classic \(bridgeB): stays there")

        // A live policy this kernel's bridge cannot enforce: one error line naming guest and MAC,
        // counted in watch.json; the tap stays where it was.
        _ = try virsh(
            "metadata", guest, "urn:vlanwire:1", "--key", "vw", "--live", "--set",
            "<vlans><interface mac='\(first)'><vlan trunk='yes' tags='5'/></interface><interface mac='\(second)'><vlan trunk='yes' tags='1-4094'/></interface></vlans>"
        )
        #expect(
            eventually { logText().contains("error: guest '\(guest)', NIC \(first): trunk:5 on classic bridge \(bridgeA) cannot be enforced") }
                != nil,
            "\(logText())")
        #expect(try master(of: firstTap) == bridgeA)
        let afterFailure = String(decoding: try #require(FileManager.default.contents(atPath: state.path + "/state/watch.json")), as: UTF8.self)
        #expect(afterFailure.contains("\"failures\" : 1") && afterFailure.contains("cannot be enforced"), "\(afterFailure)")

        // SIGTERM: exit 0, promptly.
        watch.terminate()
        #expect(eventually(5) { !watch.isRunning } != nil)
        watch.waitUntilExit()
        #expect(watch.terminationStatus == 0, "\(logText())")
        #expect(logText().contains("stopping (signal)"))
    }
}
