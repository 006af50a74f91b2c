import Foundation
import Testing
import VLANWire
import VLANWireLibvirt
import VLANWireTestSupport

/// libvirtd's pid and network namespace, when it runs in a namespace that is not this process's
/// (the sandbox of scripts/libvirtd-sandbox). Only then may a test create a bridge for a guest to
/// start on: it lands in libvirtd's namespace, never in the host's.
let sandboxedLibvirtd: (pid: String, netns: String)? = {
    for pidFile in ["/run/vlanwire-sandbox/libvirtd.pid", "/run/libvirtd.pid"] {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8) else { continue }
        let pid = text.filter(\.isNumber)
        let theirs = "/proc/\(pid)/ns/net"
        guard !pid.isEmpty, let theirID = try? FileManager.default.destinationOfSymbolicLink(atPath: theirs),
            let ourID = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        else { continue }
        return theirID == ourID ? nil : (pid, theirs)
    }
    return nil
}()

/// `vlanwire networks define|undefine` and `vlanwire set-port` run as commands against the real
/// libvirtd, checked with virsh and virt-xml-validate. Names carry the process id.
@Suite(
    "vlanwire networks and set-port on a real libvirtd",
    .enabled(
        if: libvirtdReachable,
        "needs a running libvirtd at qemu:///system, and none is reachable (start one: scripts/libvirtd-sandbox start)"),
    .enabled(if: Binary.isBuilt, "\(Binary.missing)")
)
struct LibvirtdCommandTests {
    let tag = "\(getpid() % 100_000)"

    /// A config whose networks are called `vwt<pid>-lan` and `vwt<pid>-vlan5`/`-vlan10` (the
    /// access networks are named after the classic uplink's interface).
    func writeConfig(_ directory: TemporaryDirectory, portgroups: String, defaultPortgroup: String) throws -> String {
        try directory.write(
            "vlanwire.toml",
            """
            [[uplink]]
            interface = "vwt\(tag)"
            bridge = "vwtbr\(tag)"
            mode = "classic"
            vlans = "1,5,10"
            native-vlan = 1
            access-networks = "5,10"

            [[network]]
            name = "vwt\(tag)-lan"
            uplink = "vwt\(tag)"
            portgroups = { \(portgroups) }
            default-portgroup = "\(defaultPortgroup)"
            """)
    }

    var names: [String] { ["vwt\(tag)-lan", "vwt\(tag)-vlan5", "vwt\(tag)-vlan10"] }

    func listedNetworks() throws -> Set<String> {
        Set(try virsh("net-list", "--all", "--name").split(separator: "\n").map(String.init))
    }

    @Test func networksDefineRedefineUndefine() throws {
        let directory = try TemporaryDirectory()
        let config = try writeConfig(directory, portgroups: #"office = "10""#, defaultPortgroup: "office")
        let lan = names[0]
        // Another network, not the config's: must survive undefine.
        let bystander = "vwt\(tag)-bystander"
        _ = try virsh(
            "net-define",
            try directory.write(
                "bystander.xml",
                "<network><name>\(bystander)</name><forward mode='bridge'/><bridge name='vwtby\(tag)'/></network>"))
        defer {
            for name in names + [bystander] {
                _ = try? virsh("net-destroy", name)
                _ = try? virsh("net-undefine", name)
            }
        }

        let defined = try Tools.vlanwire("networks", "define", "--config", config, "--connect", libvirtdURI)
        #expect(defined.status == 0, "\(defined)")
        #expect(defined.stdout == names.map { "\($0): defined\n" }.joined())
        #expect(try listedNetworks().isSuperset(of: names))

        // What libvirt stores is valid per its schema, and carries what vlanwire set.
        let uuid = try virsh("net-uuid", lan).trimmingCharacters(in: .whitespacesAndNewlines)
        let stored = try virsh("net-dumpxml", "--inactive", lan)
        #expect(stored.contains("<uuid>\(uuid)</uuid>"))
        #expect(stored.contains("<portgroup name='office' default='yes'>"))
        if Tools.virtXMLValidate != nil {
            for name in names {
                let run = try validateWithLibvirtSchema(
                    try virsh("net-dumpxml", "--inactive", name), schema: "network",
                    in: directory, name: "\(name)-stored.xml")
                #expect(run.status == 0, "\(name): \(run)")
            }
        }

        // Again: nothing to do.
        let again = try Tools.vlanwire("networks", "define", "--config", config, "--connect", libvirtdURI)
        #expect(again.stdout == names.map { "\($0): unchanged\n" }.joined(), "\(again)")
        #expect(try virsh("net-dumpxml", "--inactive", lan) == stored)

        // A portgroup more, and the default moved: only lan is redefined, keeping its UUID.
        let changed = try writeConfig(
            directory, portgroups: #"office = "10", router = "trunk:1,5,10 native:1""#,
            defaultPortgroup: "router")
        let redefined = try Tools.vlanwire("networks", "define", "--config", changed, "--connect", libvirtdURI, "--start")
        #expect(
            redefined.stdout == """
                \(lan): portgroup office: no longer the default; portgroup router added (default); started
                \(names[1]): unchanged; started
                \(names[2]): unchanged; started

                """, "\(redefined)")
        #expect(try virsh("net-uuid", lan).trimmingCharacters(in: .whitespacesAndNewlines) == uuid)
        #expect(try virsh("net-dumpxml", "--inactive", lan).contains("<portgroup name='router' default='yes'>"))
        #expect(try virsh("net-list", "--name").split(separator: "\n").map(String.init).filter(names.contains).count == 3)

        // JSON.
        let json = try Tools.vlanwire("networks", "define", "--config", changed, "--connect", libvirtdURI, "--json")
        let outcomes = try JSONDecoder().decode([NetworkOutcome].self, from: Data(json.stdout.utf8))
        #expect(outcomes.map(\.name) == names)
        #expect(outcomes.allSatisfy { $0.action == .unchanged && $0.active == true })

        // Undefine: the config's networks go (stopped first), the bystander stays.
        let undefined = try Tools.vlanwire("networks", "undefine", "--config", changed, "--connect", libvirtdURI)
        #expect(undefined.stdout == names.map { "\($0): stopped; undefined\n" }.joined(), "\(undefined)")
        let left = try listedNetworks()
        #expect(left.isDisjoint(with: names))
        #expect(left.contains(bystander))
        let twice = try Tools.vlanwire("networks", "undefine", "--config", changed, "--connect", libvirtdURI)
        #expect(twice.stdout == names.map { "\($0): not defined\n" }.joined())
        #expect(twice.status == 0)
    }

    // MARK: set-port

    let web = "52:54:00:00:00:01"
    let router = "52:54:00:00:00:02"

    /// Defines (does not start) a QEMU guest with two bridge NICs on `bridge`.
    func defineGuest(_ name: String, bridge: String, in directory: TemporaryDirectory) throws {
        let file = try directory.write(
            "\(name).xml",
            """
            <domain type='qemu'>
              <name>\(name)</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
              <os><type arch='x86_64' machine='pc'>hvm</type></os>
              <devices>
                <interface type='bridge'><mac address='\(web)'/><source bridge='\(bridge)'/><model type='virtio'/></interface>
                <interface type='bridge'><mac address='\(router)'/><source bridge='\(bridge)'/><model type='virtio'/></interface>
              </devices>
            </domain>
            """)
        _ = try virsh("define", file)
    }

    /// `virsh metadata GUEST --uri urn:vlanwire:1 --key vw [--live|--config]`, or nil when none.
    func virshMetadata(_ guest: String, _ scope: String = "--config") -> String? {
        try? virsh("metadata", guest, "--uri", "urn:vlanwire:1", "--key", "vw", scope)
    }

    /// The policies vlanwire's reader finds in `virsh dumpxml [--inactive]`.
    func readBack(_ guest: String, inactive: Bool = true) throws -> [String: String] {
        let xml = try inactive ? virsh("dumpxml", "--inactive", guest) : virsh("dumpxml", guest)
        let domain = try DomainDescription(xml: Array(xml.utf8), guestHint: guest)
        return Dictionary(uniqueKeysWithValues: domain.metadata.map { ($0.key.description, $0.value.description) })
    }

    @Test func setPortWritesMetadataVirshAndTheReaderAgree() throws {
        let guest = "vwt\(tag)-setport"
        let directory = try TemporaryDirectory()
        try defineGuest(guest, bridge: "vwtbr\(tag)", in: directory)
        defer { _ = try? virsh("undefine", guest) }

        let access = try Tools.vlanwire("set-port", guest, "--mac", web, "--access", "5", "--connect", libvirtdURI)
        #expect(access.status == 0, "\(access)")
        #expect(
            access.stdout == """
                \(guest), NIC \(web): access:5 (was no vlanwire policy)
                persistent definition: updated; live definition: none (not running)

                """)
        let trunk = try Tools.vlanwire(
            "set-port", guest, "--mac", router.uppercased(), "--trunk", "1,5,10-20",
            "--native", "1", "--connect", libvirtdURI, "--json")
        #expect(trunk.status == 0, "\(trunk)")
        let change = try JSONDecoder().decode(PortChange.self, from: Data(trunk.stdout.utf8))
        #expect(change.policy == (try PortPolicy(parsing: "trunk:1,5,10-20 native:1")))
        #expect(change.persistent == .updated && change.live == .notRequested && !change.running)

        #expect(
            virshMetadata(guest) == """
                <vlans>
                  <interface mac="\(web)"><vlan tags="5"/></interface>
                  <interface mac="\(router)"><vlan trunk="yes" tags="1,5,10-20" native="1"/></interface>
                </vlans>


                """)
        #expect(try readBack(guest) == [web: "access:5", router: "trunk:1,5,10-20 native:1"])

        // Changing one keeps the other; clearing one leaves the other.
        _ = try Tools.vlanwire("set-port", guest, "--mac", web, "--trunk", "7", "--connect", libvirtdURI)
        #expect(try readBack(guest) == [web: "trunk:7", router: "trunk:1,5,10-20 native:1"])
        let cleared = try Tools.vlanwire("set-port", guest, "--mac", router, "--clear", "--connect", libvirtdURI)
        #expect(cleared.stdout.hasPrefix("\(guest), NIC \(router): no vlanwire policy (was trunk:1,5,10-20 native:1)\n"))
        #expect(try readBack(guest) == [web: "trunk:7"])
        _ = try Tools.vlanwire("set-port", guest, "--mac", web, "--clear", "--connect", libvirtdURI)
        #expect(virshMetadata(guest) == nil)
        #expect(try !virsh("dumpxml", "--inactive", guest).contains("urn:vlanwire:1"))
    }

    /// Every bad input: exit status 1, one line on stderr naming guest, MAC and cause, nothing on
    /// stdout, and the guest's definition byte for byte as before.
    @Test func setPortRefusalsWriteNothing() throws {
        let guest = "vwt\(tag)-refuse"
        let directory = try TemporaryDirectory()
        try defineGuest(guest, bridge: "vwtbr\(tag)", in: directory)
        defer { _ = try? virsh("undefine", guest) }
        _ = try Tools.vlanwire("set-port", guest, "--mac", router, "--trunk", "1,5", "--connect", libvirtdURI)
        let metadataBefore = virshMetadata(guest)
        let xmlBefore = try virsh("dumpxml", "--inactive", guest)
        #expect(metadataBefore != nil)

        let cases: [(arguments: [String], message: String)] = [
            (
                [guest, "--mac", web, "--access", "4095"],
                "guest '\(guest)', NIC \(web): invalid VLAN id '4095': 4095 is reserved by 802.1Q (valid: 1...4094) — fix: VLAN ids are 1...4094, sets like 1,5,10-20"
            ),
            (
                [guest, "--mac", web, "--access", "0"],
                "guest '\(guest)', NIC \(web): invalid VLAN id '0': 0 is reserved for priority-tagged frames (valid: 1...4094) — fix: VLAN ids are 1...4094, sets like 1,5,10-20"
            ),
            ([guest, "--mac", web, "--trunk", "1-4095"], "guest '\(guest)', NIC \(web): invalid VLAN set '1-4095'"),
            ([guest, "--mac", web, "--trunk", "5", "--native", "4095"], "guest '\(guest)', NIC \(web): invalid VLAN id '4095'"),
            (
                [guest, "--mac", web, "--trunk", "10", "--native-tagged", "1"],
                "guest '\(guest)', NIC \(web): invalid port policy '--trunk 10 --native-tagged 1': VLAN 1 is not in the trunk's VLANs 10 (list it: --trunk 1,10) — fix: --access VID, or --trunk SET with --native VID or --native-tagged VID (a VLAN of SET)"
            ),
            (
                [guest, "--mac", "52:54:00:00:00:0g", "--access", "5"],
                "guest '\(guest)', NIC 52:54:00:00:00:0g: invalid MAC address '52:54:00:00:00:0g': '0g' is not a hex octet"
            ),
            ([guest, "--mac", "52:54:00:00:00:01:02", "--access", "5"], "guest '\(guest)', NIC 52:54:00:00:00:01:02: invalid MAC address"),
            (
                ["vwt\(tag)-nosuchguest", "--mac", web, "--access", "5"],
                "guest 'vwt\(tag)-nosuchguest', NIC \(web): no such guest on qemu:///system — fix: virsh -c qemu:///system list --all lists the guests"
            ),
        ]
        for (arguments, message) in cases {
            let run = try Subprocess.run(Binary.vlanwire, ["set-port"] + arguments + ["--connect", libvirtdURI])
            #expect(run.status == 1, "\(arguments): \(run)")
            #expect(run.stdout.isEmpty, "\(arguments): \(run)")
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(arguments): \(run)")
            #expect(run.stderr.hasPrefix(message), "\(arguments): \(run)")
            #expect(virshMetadata(guest) == metadataBefore, "\(arguments) changed the metadata")
            #expect(try virsh("dumpxml", "--inactive", guest) == xmlBefore, "\(arguments) changed the definition")
        }

        // Usage mistakes are usage errors (exit status 2), and write nothing either.
        for arguments in [
            [guest, "--mac", web], [guest, "--mac", web, "--access", "5", "--clear"],
            [guest, "--mac", web, "--access", "5", "--native", "1"],
            [guest, "--mac", web, "--access", "5", "--native-tagged", "1"],
            [guest, "--mac", web, "--trunk", "1,5", "--native", "1", "--native-tagged", "1"],
        ] {
            let run = try Subprocess.run(Binary.vlanwire, ["set-port"] + arguments + ["--connect", libvirtdURI])
            #expect(run.status == 2, "\(arguments): \(run)")
            #expect(try virsh("dumpxml", "--inactive", guest) == xmlBefore)
        }
    }

    /// --live on a running guest: the guest starts on a bridge made in libvirtd's own network
    /// namespace (the sandbox's), never in the host's; set-port runs in that namespace too (it
    /// re-applies the guest's ports there), with a state directory of its own.
    @Test(
        .enabled(
            if: sandboxedLibvirtd != nil,
            "needs libvirtd in a network namespace of its own (scripts/libvirtd-sandbox start), to start a guest without touching the host's network")
    )
    func setPortLiveOnARunningGuest() throws {
        let (_, netns) = try #require(sandboxedLibvirtd)
        let guest = "vwt\(tag)-live"
        let bridge = "vwtlv\(tag)"
        let directory = try TemporaryDirectory()
        let made = try Subprocess.run("/usr/bin/nsenter", ["--net=\(netns)", "ip", "link", "add", bridge, "type", "bridge"])
        try #require(made.status == 0, "\(made)")
        defer { _ = try? Subprocess.run("/usr/bin/nsenter", ["--net=\(netns)", "ip", "link", "del", bridge]) }
        try defineGuest(guest, bridge: bridge, in: directory)
        defer { _ = try? virsh("undefine", guest) }
        // A trunk carrying every VLAN: what a bridge without VLAN filtering can honestly give (a
        // sandbox started with vlanwire's hook refuses anything narrower at start).
        _ = try Tools.vlanwire("set-port", guest, "--mac", router, "--trunk", "1-4094", "--connect", libvirtdURI)
        _ = try virsh("start", guest)
        defer { _ = try? virsh("destroy", guest) }
        func setPort(_ arguments: String...) throws -> ProcessRun {
            try Subprocess.run(
                "/usr/bin/nsenter",
                ["--net=\(netns)", Binary.vlanwire, "set-port", guest] + arguments
                    + ["--connect", libvirtdURI], environment: ["VLANWIRE_STATE_DIR": directory.path + "/state"])
        }

        // Without --live: the persistent definition only, and the output says so.
        let persistent = try setPort("--mac", web, "--access", "5")
        #expect(
            persistent.stdout.contains("live definition: not changed (the running guest keeps its ports until restarted; --live changes it now)"),
            "\(persistent)")
        #expect(try readBack(guest) == [web: "access:5", router: "trunk:1-4094"])
        #expect(try readBack(guest, inactive: false) == [router: "trunk:1-4094"])

        // With --live: both, merged from each definition's own entries, and the ports re-applied at
        // once (both taps are already where the policies want them).
        let live = try setPort("--mac", web, "--trunk", "1-4094", "--live")
        #expect(live.status == 0, "\(live)")
        #expect(
            live.stdout == """
                \(guest), NIC \(web): trunk:1-4094 (was access:5)
                persistent definition: updated; live definition: updated
                running guest: nothing to change

                """)
        #expect(try readBack(guest) == [web: "trunk:1-4094", router: "trunk:1-4094"])
        #expect(try readBack(guest, inactive: false) == [web: "trunk:1-4094", router: "trunk:1-4094"])
        #expect(
            virshMetadata(guest, "--live") == """
                <vlans>
                  <interface mac="\(web)"><vlan trunk="yes" tags="1-4094"/></interface>
                  <interface mac="\(router)"><vlan trunk="yes" tags="1-4094"/></interface>
                </vlans>


                """)

        // Refusals on a running guest leave both definitions alone.
        let liveBefore = try virsh("dumpxml", guest)
        let configBefore = try virsh("dumpxml", "--inactive", guest)
        for arguments in [["--mac", web, "--access", "4095"], ["--mac", "52:54:00:00:00:09", "--access", "0"]] {
            let refused = try Subprocess.run(
                Binary.vlanwire,
                ["set-port", guest] + arguments + ["--live", "--connect", libvirtdURI])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.hasPrefix("guest '\(guest)', NIC "), "\(refused)")
            #expect(try virsh("dumpxml", guest) == liveBefore)
            #expect(try virsh("dumpxml", "--inactive", guest) == configBefore)
        }
    }
}
