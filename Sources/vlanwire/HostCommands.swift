import ArgumentParser
import Logging
import VLANWire
import VLANWireHost
import VLANWireNetlink

#if canImport(Glibc)
    import Glibc
    import VLANWireReports
#endif

struct HookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook",
        abstract: "libvirt's qemu hook (what /etc/libvirt/hooks/qemu runs); reads the domain XML on stdin.",
        discussion: """
            libvirt runs `/etc/libvirt/hooks/qemu GUEST OP SUBOP EXTRA`; the installed hook execs \
            `vlanwire hook qemu "$@"`. prepare creates access bridges and VLAN legs (a bad policy stops \
            the guest from starting, with one line per problem); start/started set the taps' VLANs; \
            stopped/release clean up and never fail; reconnect/attach re-apply and always exit 0. \
            Logs go to syslog; VLANWIRE_LOG=debug for more. State: /run/vlanwire (VLANWIRE_STATE_DIR).

            EXIT STATUS: 1 when prepare, start, started, migrate or restore refuse the guest (it does not start or move, and libvirt shows the stderr lines); 0 otherwise, and always for stopped, release, reconnect, attach and operations vlanwire does not know.
            """
    )

    @Argument(help: ArgumentHelp("The hook's kind (qemu), then what libvirt passes: GUEST OP SUBOP EXTRA.", valueName: "args"))
    var arguments: [String] = []

    func run() throws {
        guard arguments.first == "qemu" else {
            throw ValidationError("vlanwire is a qemu hook: expected `vlanwire hook qemu GUEST OP SUBOP EXTRA`")
        }
        try Self.run(arguments: arguments)
    }

    /// libvirt's call, `vlanwire hook qemu GUEST OP SUBOP EXTRA`, as `main` dispatches it without
    /// swift-argument-parser. Everything after `hook qemu` is libvirt's and never an option: a guest
    /// named `-h` or `--help` must be wired, not answered with the help text (it would start unwired).
    /// Nil when argv is not `hook qemu ...` (`vlanwire hook --help`, a typo): the parser handles that.
    static func fastPathArguments(_ argv: [String]) -> [String]? {
        guard argv.count >= 3, argv[1] == "hook", argv[2] == "qemu" else { return nil }
        return Array(argv.dropFirst(2))
    }

    /// The hook itself; `arguments` starts with the hook's kind (`qemu`).
    static func run(arguments: [String]) throws {
        let status = HookMain.run(libvirtArguments: Array(arguments.dropFirst()))
        if status != 0 { throw ExitCode(status) }
    }
}

struct NamespaceOption: ParsableArguments {
    @Option(help: ArgumentHelp("Work in the network namespace NAME (/run/netns/NAME) instead of the current one.", valueName: "name"))
    var netns: String?

    func namespace() throws -> NetworkNamespace {
        guard let netns else { return .current }
        do { return try .named(netns) } catch { throw ValidationError("\(error)") }
    }
}

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Wire a guest's NICs by hand, from its domain XML (what the hook does at start).",
        discussion: """
            Plans like `vlanwire plan`, then applies the plan over netlink: all or nothing — if an action \
            fails, what was done is undone. Records what it created in the state (like the hook), so \
            `vlanwire release` and the hook's cleanup know it.

              vlanwire apply guest.xml                  # prepare + start: bridges, legs, port VLANs
              vlanwire apply guest.xml --op prepare     # only what must exist before the taps
              vlanwire apply guest.xml --netns lab1     # in a network namespace

            EXIT STATUS: 0 when the guest is wired; 1 when it is refused or an action failed (what was done is undone).
            """
    )

    @Argument(help: ArgumentHelp("The guest's domain XML (virsh dumpxml GUEST).", valueName: "domain.xml"))
    var domainXML: String

    @Option(help: ArgumentHelp("prepare, start, started, reconnect, migrate or restore.", valueName: "op"), transform: parseOperation)
    var op: HookOperation = .start

    @OptionGroup var config: ConfigOptions
    @OptionGroup var namespace: NamespaceOption

    @Flag(help: "Print the plan that was applied as JSON.")
    var json = false

    func validate() throws {
        if op.phase == .release { throw ValidationError("use `vlanwire release` to release a guest") }
    }

    func run() throws {
        let domain = try readDomain(domainXML)
        let wiring = Wiring(
            namespace: try namespace.namespace(), store: StateStore.forNamespace(namespace.netns),
            config: try config.load(), logger: Logger.forCommand("apply"),
            faultInjection: .fromTestEnvironment())
        let outcome = try wiring.apply(domain, operation: op)
        printPlan(outcome.plan, json: json, messages: outcome.report.messagesSent)
    }
}

struct ReleaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Forget a guest and delete what vlanwire created for it that nothing else uses.",
        discussion: """
            What the hook does at stopped/release. Deletes only links vlanwire created (its state and \
            the link's `vlanwire` alias both say so) that no other guest uses and that have no other ports.

              vlanwire release guest.xml
              vlanwire release --guest web1 --netns lab1

            EXIT STATUS: 0: a release never fails (what could not be deleted is logged and kept in the state); 1 only when the state or netlink cannot be used at all.
            """
    )

    @Argument(help: ArgumentHelp("The guest's domain XML (or give --guest).", valueName: "domain.xml"))
    var domainXML: String?

    @Option(help: ArgumentHelp("The guest's name, instead of its XML.", valueName: "name"))
    var guest: String?

    @OptionGroup var config: ConfigOptions
    @OptionGroup var namespace: NamespaceOption

    @Flag(help: "Print the release plan as JSON.")
    var json = false

    func validate() throws {
        guard (domainXML == nil) != (guest == nil) else { throw ValidationError("give a domain XML file or --guest NAME") }
    }

    func run() throws {
        let name = try guest ?? readDomain(domainXML!).name
        let wiring = Wiring(
            namespace: try namespace.namespace(), store: StateStore.forNamespace(namespace.netns),
            config: try config.load(), logger: Logger.forCommand("release"))
        let outcome = wiring.release(guest: name)
        printPlan(outcome.plan, json: json, messages: outcome.report.messagesSent)
        if !outcome.report.failures.isEmpty {
            throw CLIFailure(outcome.report.failures.map(\.description).joined(separator: "\n"))
        }
    }
}

func readDomain(_ path: String) throws -> DomainDescription {
    let bytes: [UInt8]
    do { bytes = try FileAccess.read(path, limit: XMLDocumentParser.defaultMaximumSize + 1) } catch {
        throw Refusal(Problem(guest: path, cause: "domain XML \(error.description)", fix: "pass libvirt's domain XML (virsh dumpxml GUEST)"))
    }
    return try DomainDescription(xml: bytes, guestHint: path)
}

func printPlan(_ plan: Plan, json: Bool, messages: Int) {
    let report = PlanReport(plan)
    if json {
        print(JSON.encode(report))
    } else {
        print(report.text, terminator: "")
        print("  (\(messages) netlink request\(messages == 1 ? "" : "s"))")
    }
}

struct InstallHookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install-hook",
        abstract: "Install vlanwire as libvirt's qemu hook (and, with --watch, the unit that runs vlanwire watch).",
        discussion: """
            Writes DIR/qemu (a one-line `exec vlanwire-hook "$@"`, the lean hook installed beside \
            vlanwire; `exec vlanwire hook qemu "$@"` without it), or DIR/qemu.d/vlanwire when \
            DIR/qemu belongs to another tool (libvirt >= 6.5 runs both). libvirtd finds hooks when it \
            starts: restart it afterwards.

            --watch also writes UNITS-DIR/vlanwire-watch.service, which runs `vlanwire watch` (the \
            hook only runs when guests start and stop; watch keeps them wired in between). It never \
            replaces a unit it did not write, and runs no systemctl: it prints the command to enable it.

            EXIT STATUS: 0 when installed (or already installed); 1 when a file cannot be written or the binary's path is unsafe for the hook script or unit.
            """
    )

    @Option(help: ArgumentHelp("libvirt's hooks directory.", valueName: "dir"))
    var dir = "/etc/libvirt/hooks"

    @Option(help: ArgumentHelp("The vlanwire binary (default: this one); the hook runs vlanwire-hook beside it if there.", valueName: "path"))
    var binary: String?

    @Flag(help: "Also install vlanwire-watch.service, the systemd unit that runs `vlanwire watch`.")
    var watch = false

    @Option(name: .customLong("units-dir"), help: ArgumentHelp("Where --watch puts the unit.", valueName: "dir"))
    var unitsDirectory = "/etc/systemd/system"

    func run() throws {
        let binary = try binary ?? currentExecutable()
        let installer = HookInstaller(directory: dir, binary: binary, hookBinary: HookInstaller.leanHook(beside: binary))
        let result: HookInstaller.Result
        do { result = try installer.install() } catch { throw CLIFailure(error.description) }
        if let foreign = result.foreignHook { print("\(foreign) belongs to another tool: left alone") }
        print(result.changed ? "installed \(result.path)" : "\(result.path) is already installed")
        print("restart libvirt so it finds the hook: systemctl restart libvirtd (or virtqemud)")
        guard watch else {
            print("keep guests wired between starts: vlanwire install-hook --watch")
            return
        }
        let unit: WatchUnitInstaller.Result
        do { unit = try WatchUnitInstaller(directory: unitsDirectory, binary: binary).install() } catch {
            throw CLIFailure(error.description)
        }
        print(unit.changed ? "installed \(unit.path)" : "\(unit.path) is already installed")
        print("start vlanwire watch now and at every boot: \(WatchUnitInstaller.enableCommand)")
    }

    func currentExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { throw CLIFailure("cannot find this binary's path; give --binary") }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
