import ArgumentParser
import VLANWire
import VLANWireHost
import VLANWireReports

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what vlanwire would change for a guest (dry run, no root needed).",
        discussion: """
            Reads domain XML files (virsh dumpxml GUEST > g.xml) and prints, per guest, how each NIC \
            resolves (policy, where it came from, uplink, the bridge its tap belongs in) and the ordered \
            actions as iproute2 commands. Nothing is changed.

            Without --observed, vlanwire assumes the configured uplinks and bridges exist and nothing \
            else does. `vlanwire status --json > kernel.json` records the real kernel for --observed.

              vlanwire plan Examples/access-mode/web1.xml --config Examples/access-mode/vlanwire.toml
              vlanwire plan guest.xml --op prepare --observed kernel.json --json

            EXIT STATUS: 0 when every guest plans; 1 when a guest is refused (one line per problem on stderr); 2 on a usage error.
            """
    )

    @Argument(help: ArgumentHelp("Domain XML files.", valueName: "domain.xml"))
    var domains: [String]

    @Option(
        help: ArgumentHelp(
            "Hook operation to plan for: \(HookOperation.allCases.map(\.rawValue).joined(separator: ", ")). `start` includes what `prepare` does.",
            valueName: "op"),
        transform: parseOperation)
    var op: HookOperation = .start

    @OptionGroup var config: ConfigOptions

    @Option(help: ArgumentHelp("The kernel's state as JSON (from `vlanwire status --json`).", valueName: "file"))
    var observed: String?

    @Option(
        help: ArgumentHelp(
            "vlanwire's state to plan against (release plans need it): its directory (/run/vlanwire) or a state.json of version 1.",
            valueName: "path"))
    var state: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let config = try config.load()
        let observedState: ObservedState = try observed.map { try readJSON(ObservedState.self, path: $0) } ?? .unknown
        let vlanwireState: VLANWireState = try state.map(readState) ?? .empty
        let planner = Planner(
            topology: Topology.resolve(config: config, observed: observedState),
            observed: observedState, state: vlanwireState)
        var reports: [PlanReport] = []
        var problems: [Problem] = []
        for path in domains {
            let bytes: [UInt8]
            do { bytes = try FileAccess.read(path, limit: XMLDocumentParser.defaultMaximumSize + 1) } catch {
                problems.append(
                    Problem(guest: path, cause: "domain XML \(error.description)", fix: "pass libvirt's domain XML (virsh dumpxml GUEST)"))
                continue
            }
            do {
                let domain = try DomainDescription(xml: bytes, guestHint: path)
                reports.append(PlanReport(try planner.plan(domain, operation: op)))
            } catch {
                problems += error.problems
            }
        }
        guard problems.isEmpty else { throw Refusal(problems) }
        if json {
            print(JSON.encode(reports))
        } else {
            print(reports.map(\.text).joined(separator: "\n"), terminator: "")
        }
    }
}

func parseOperation(_ text: String) throws -> HookOperation {
    guard let operation = HookOperation(rawValue: text) else {
        throw ValidationError("unknown operation '\(text)' (one of \(HookOperation.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return operation
}

/// vlanwire's state from its directory (every guest's record), or from one state file.
func readState(path: String) throws -> VLANWireState {
    if FileAccess.exists(path + "/.") {
        guard let state = StateStore(directory: path).peek() else {
            throw CLIFailure("\(path): no readable vlanwire state (state.json) in this directory")
        }
        return state
    }
    do { return try VLANWireState(stateJSON: FileAccess.read(path, limit: 16 << 20)) } catch let error as FileAccess.Failure {
        throw CLIFailure(error.description)
    } catch {
        throw CLIFailure("\(path): \(error)")
    }
}

func readJSON<T: Decodable>(_ type: T.Type, path: String) throws -> T {
    do {
        return try JSON.decode(type, from: FileAccess.read(path, limit: 64 << 20), what: path)
    } catch let error as FileAccess.Failure {
        throw CLIFailure(error.description)
    } catch {
        throw CLIFailure("\(error)")
    }
}
