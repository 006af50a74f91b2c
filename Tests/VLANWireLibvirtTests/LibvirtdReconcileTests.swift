import Foundation
import Testing
import VLANWire
import VLANWireLibvirt
import VLANWireReports
import VLANWireTestSupport

/// `vlanwire status` (libvirt's view) and `vlanwire reconcile` against the real, sandboxed libvirtd,
/// with a real (paused, TCG) guest. The commands run inside libvirtd's network namespace, where the
/// taps are, with a state directory of their own. This host's kernel has no 802.1Q and no
/// vlan_filtering: the drift here is a tap moved to another bridge by hand, which status shows and
/// reconcile puts back; VLAN drift is the lab's (Tests/Lab/scenarios/25-reconcile.sh).
@Suite(
    "vlanwire status and reconcile on a real libvirtd", .serialized,
    .enabled(
        if: sandboxedLibvirtd != nil,
        "needs libvirtd in a network namespace of its own (scripts/libvirtd-sandbox start), to start a guest without touching the host's network"),
    .enabled(if: Binary.isBuilt, "\(Binary.missing)")
)
struct LibvirtdReconcileTests {
    let tag = "\(getpid() % 100_000)"
    var guest: String { "vwt\(tag)-rec" }
    var bridgeA: String { "vwra\(tag)" }
    var bridgeB: String { "vwrb\(tag)" }
    /// A bridge carrying the mark of the test's state, as if that state had made it before its file was lost.
    var marked: String { "vwrm\(tag)" }
    /// Has a full trunk in the metadata (what a bridge without VLAN filtering can give).
    let router = "52:54:00:7c:00:01"
    /// Has no policy: "kernel default".
    let web = "52:54:00:7c:00:02"

    var netns: String { sandboxedLibvirtd!.netns }

    /// `ip ARGUMENTS` in libvirtd's namespace.
    @discardableResult
    func ip(_ arguments: String...) throws -> ProcessRun {
        let run = try Subprocess.run("/usr/bin/nsenter", ["--net=\(netns)", "ip"] + arguments)
        try #require(run.status == 0, "ip \(arguments.joined(separator: " ")): \(run)")
        return run
    }

    /// `vlanwire ARGUMENTS` in libvirtd's namespace, with `state` as its state directory.
    func vlanwire(_ arguments: [String], state: TemporaryDirectory) throws -> ProcessRun {
        try Subprocess.run(
            "/usr/bin/nsenter", ["--net=\(netns)", Binary.vlanwire] + arguments,
            environment: ["VLANWIRE_STATE_DIR": state.path + "/state"])
    }

    func statusDocument(_ state: TemporaryDirectory) throws -> StatusDocument {
        let run = try vlanwire(["status", "--json", "--connect", libvirtdURI], state: state)
        try #require(run.status == 0, "\(run)")
        return try JSONDecoder().decode(StatusDocument.self, from: Data(run.stdout.utf8))
    }

    func ourGuest(_ document: StatusDocument) throws -> GuestStatus {
        try #require(document.libvirt.guests.first { $0.name == guest }, "\(document.libvirt)")
    }

    func storedState(_ state: TemporaryDirectory) throws -> VLANWireState {
        try VLANWireTestSupport.storedState(state.path + "/state")
    }

    func masterOf(_ tap: String) throws -> String? {
        let text = try ip("-j", "link", "show", "dev", tap).stdout
        let links = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
        return links?.first?["master"] as? String
    }

    @Test func statusShowsDriftReconcileFixesItAndRebuildsTheState() throws {
        let directory = try TemporaryDirectory()
        let state = try TemporaryDirectory()
        for bridge in [bridgeA, bridgeB, marked] {
            try ip("link", "add", bridge, "type", "bridge")
            try ip("link", "set", bridge, "up")
        }
        defer {
            for bridge in [bridgeA, bridgeB, marked] { _ = try? Subprocess.run("/usr/bin/nsenter", ["--net=\(netns)", "ip", "link", "del", bridge]) }
        }
        // The mark of this test's own state directory: the sandbox libvirtd's hook (another state in
        // this namespace, releasing other suites' guests meanwhile) must neither adopt nor delete it.
        try ip("link", "set", marked, "alias", LinkMark(stateDirectory: state.path + "/state", isNamespaceDefault: false).alias)
        let file = try directory.write(
            "\(guest).xml",
            """
            <domain type='qemu'>
              <name>\(guest)</name>
              <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='\(router)'><vw:vlan trunk='yes' tags='1-4094'/></vw:interface></vw:vlans></metadata>
              <memory unit='MiB'>64</memory><vcpu>1</vcpu>
              <os><type arch='x86_64' machine='pc'>hvm</type><kernel>\(SandboxHook.kernel)</kernel></os>
              <devices>
                <interface type='bridge'><mac address='\(router)'/><source bridge='\(bridgeA)'/><model type='virtio'/></interface>
                <interface type='bridge'><mac address='\(web)'/><source bridge='\(bridgeA)'/><model type='virtio'/></interface>
              </devices>
            </domain>
            """)
        _ = try virsh("define", file)
        defer { _ = try? virsh("undefine", guest) }
        _ = try virsh("start", guest, "--paused")
        defer { _ = try? virsh("destroy", guest) }

        // Clean: both NICs found by MAC in bridge A; the router's policy from the metadata, the
        // other NIC without one (kernel default).
        var ours = try ourGuest(try statusDocument(state))
        #expect(ours.nics.count == 2)
        let routerTap = try #require(ours.nics[0].tap)
        let webTap = try #require(ours.nics[1].tap)
        #expect(ours.nics[0].tapFoundBy == .targetDevice, "live XML has <target dev>, and its MAC is fe:54:00:7c:00:01")
        #expect(ours.nics[0].policy == (try PortPolicy(parsing: "trunk:1-4094")) && ours.nics[0].policySource == "vlanwire metadata")
        #expect(ours.nics[1].policy == nil && ours.nics[1].policySource == "kernel default")
        #expect(ours.nics.allSatisfy { $0.kernelBridge == bridgeA && $0.bridge == bridgeA && $0.mismatches.isEmpty }, "\(ours)")

        // Drift: the router's tap moved to bridge B by hand.
        try ip("link", "set", routerTap, "master", bridgeB)
        ours = try ourGuest(try statusDocument(state))
        #expect(ours.nics[0].mismatches.map(\.kind) == [.wrongBridge])
        #expect(ours.nics[0].mismatches.first?.message == "tap \(routerTap) is in \(bridgeB); its policy trunk:1-4094 needs \(bridgeA)")
        #expect(ours.nics[1].mismatches.isEmpty)
        let table = try vlanwire(["status", "--connect", libvirtdURI], state: state)
        #expect(table.stdout.contains("Guests (\(libvirtdURI), "), "\(table)")
        #expect(table.stdout.contains("tap \(routerTap) is in \(bridgeB); its policy trunk:1-4094 needs \(bridgeA)"), "\(table)")
        #expect(table.stdout.contains("`vlanwire reconcile` fixes"), "\(table)")
        let kernelOnly = try vlanwire(["status", "--no-libvirt"], state: state)
        #expect(kernelOnly.stdout.hasSuffix("libvirt: not asked (--no-libvirt); the kernel's view only.\n"), "\(kernelOnly)")
        #expect(!kernelOnly.stdout.contains(guest))

        // --plan: the move, and nothing changes.
        let plan = try vlanwire(["reconcile", guest, "--plan", "--connect", libvirtdURI], state: state)
        #expect(plan.status == 0, "\(plan)")
        #expect(
            plan.stdout.hasPrefix(
                """
                \(guest): 1 action to apply
                  1. ip link set \(routerTap) master \(bridgeA)

                """), "\(plan)")
        #expect(try masterOf(routerTap) == bridgeB)
        #expect(!FileManager.default.fileExists(atPath: state.path + "/state/state.json"), "--plan writes no state")

        // reconcile: moved back, recorded; status clean.
        let fixed = try vlanwire(["reconcile", guest, "--connect", libvirtdURI], state: state)
        #expect(fixed.status == 0, "\(fixed)")
        #expect(fixed.stdout.hasPrefix("\(guest): 1 action applied\n  1. ip link set \(routerTap) master \(bridgeA)\n"), "\(fixed)")
        #expect(try masterOf(routerTap) == bridgeA)
        #expect(try ourGuest(try statusDocument(state)).mismatches.isEmpty)
        var stored = try storedState(state)
        let record = try #require(stored.guest(named: guest))
        #expect(record.nics.map(\.mac.description) == [router], "only the NIC with a policy is vlanwire's")
        #expect(record.nics.first?.tap?.rawValue == routerTap && record.nics.first?.bridge?.rawValue == bridgeA)
        #expect(stored.createdLinks.map(\.name.rawValue).contains(marked), "rebuilt from the kernel's marks")
        #expect(stored.usersUnknown, "only one guest was named: the users of \(marked) are not known yet")

        // Again: nothing to change.
        let again = try vlanwire(["reconcile", guest, "--connect", libvirtdURI, "--json"], state: state)
        let summary = try JSONDecoder().decode(ReconcileSummary.self, from: Data(again.stdout.utf8))
        #expect(summary.guests.map(\.status) == [.unchanged] && !summary.dryRun)

        // State file deleted: a reconcile of every running guest rebuilds it. Other suites may run
        // guests in this sandbox at the same time; the users become known only if none of them fails.
        try FileManager.default.removeItem(atPath: state.path + "/state/state.json")
        let all = try vlanwire(["reconcile", "--connect", libvirtdURI, "--json"], state: state)
        let everyone = try JSONDecoder().decode(ReconcileSummary.self, from: Data(all.stdout.utf8))
        #expect(everyone.stateRebuilt && everyone.usersUnknownBefore)
        #expect(everyone.guests.first { $0.guest == guest }?.status == .unchanged, "\(all)")
        stored = try storedState(state)
        #expect(stored.guest(named: guest)?.nics.first?.tap?.rawValue == routerTap)
        if everyone.failures.isEmpty {
            #expect(all.status == 0 && !stored.usersUnknown, "\(all)")
        } else {
            #expect(all.status == 1 && stored.usersUnknown, "\(all)")
            #expect(all.stderr.split(separator: "\n").count == everyone.failureLines.count, "one line per failure: \(all)")
        }

        // set-port --live re-applies at once: the other NIC, moved away by hand, gets a policy and comes back.
        try ip("link", "set", webTap, "master", bridgeB)
        let setPort = try vlanwire(["set-port", guest, "--mac", web, "--trunk", "1-4094", "--live", "--connect", libvirtdURI], state: state)
        #expect(setPort.status == 0, "\(setPort)")
        #expect(
            setPort.stdout == """
                \(guest), NIC \(web): trunk:1-4094 (was no vlanwire policy)
                persistent definition: updated; live definition: updated
                running guest: 1 action applied
                  1. ip link set \(webTap) master \(bridgeA)
                  note: \(webTap) moves from \(bridgeB) to \(bridgeA) (trunk:1-4094)

                """, "\(setPort)")
        #expect(try masterOf(webTap) == bridgeA)
        #expect(try storedState(state).guest(named: guest)?.nics.count == 2)

        // A policy this kernel's bridge cannot enforce: the metadata is written (it is valid), the
        // re-apply is refused with one line, exit 1, and the kernel stays as it was.
        let refused = try vlanwire(["set-port", guest, "--mac", web, "--trunk", "5", "--live", "--connect", libvirtdURI], state: state)
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stdout.contains("running guest: FAILED"), "\(refused)")
        let lines = refused.stderr.split(separator: "\n")
        #expect(
            lines.count == 1 && lines[0].hasPrefix("guest '\(guest)', NIC \(web): trunk:5 on classic bridge \(bridgeA) cannot be enforced"),
            "\(refused)")
        #expect(try masterOf(webTap) == bridgeA)
        let shown = try ourGuest(try statusDocument(state))
        #expect(shown.nics[1].mismatches.map(\.kind) == [.policyRefused])
    }
}

/// `vlanwire status` and `reconcile` when libvirt cannot be reached (no libvirtd needed).
@Suite("vlanwire status without libvirt", .enabled(if: Binary.isBuilt, "\(Binary.missing)"))
struct StatusWithoutLibvirtTests {
    /// libvirt unreachable: the kernel's view, and the output says why.
    @Test func unreachableLibvirtGivesTheKernelViewOnly() throws {
        let run = try Tools.vlanwire("status", "--connect", "qemu+unix:///system?socket=/nonexistent/libvirt-sock")
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("libvirt: unreachable at qemu+unix:///system?socket=/nonexistent/libvirt-sock ("), "\(run)")
        #expect(run.stdout.hasSuffix("; the kernel's view only.\n"), "\(run)")
        let json = try Tools.vlanwire("status", "--json", "--connect", "qemu+unix:///system?socket=/nonexistent/libvirt-sock")
        let document = try JSONDecoder().decode(StatusDocument.self, from: Data(json.stdout.utf8))
        #expect(document.libvirt.state == .unreachable && document.libvirt.error != nil && document.libvirt.guests.isEmpty)
        let reconcile = try Tools.vlanwire("reconcile", "--connect", "qemu+unix:///system?socket=/nonexistent/libvirt-sock")
        #expect(reconcile.status == 1 && reconcile.stdout.isEmpty, "\(reconcile)")
        #expect(reconcile.stderr.split(separator: "\n").count == 1, "\(reconcile)")
    }

    /// libvirt's test driver (no daemon): its running guest "test" has one NIC on network
    /// "default", which no config maps: shown, unmanaged, nothing to reconcile.
    @Test func testDriverGuestIsShownUnmanaged() throws {
        let state = try TemporaryDirectory()
        let run = try Tools.vlanwire("status", "--connect", "test:///default", environment: ["VLANWIRE_STATE_DIR": state.path])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("Guests (test:///default, 1 running):\n"), "\(run)")
        let row = run.stdout.split(separator: "\n").first { $0.hasPrefix("test ") }.map(String.init) ?? ""
        #expect(
            row.split(separator: " ", omittingEmptySubsequences: true).prefix(5) == ["test", "aa:bb:cc:dd:ee:ff", "-", "network", "default"],
            "\(run)")
        #expect(row.contains("unmanaged") && row.contains("network 'default' is not mapped in vlanwire's config"), "\(run)")
        #expect(run.stdout.hasSuffix("Every guest NIC is as its definition and policy say.\n"), "\(run)")

        let plan = try Tools.vlanwire("reconcile", "--plan", "--connect", "test:///default", environment: ["VLANWIRE_STATE_DIR": state.path])
        #expect(plan.status == 0, "\(plan)")
        #expect(plan.stdout.hasPrefix("test: nothing to change\nstate would be: 0 guests recorded"), "\(plan)")
    }
}
