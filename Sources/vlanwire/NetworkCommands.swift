import ArgumentParser
import VLANWire
import VLANWireLibvirt
import VLANWireReports
import VLANWireTemplates

/// The config's network definitions, or a one-line failure.
private func configuredNetworks(_ options: ConfigOptions, templates: String?) throws -> [NetworkDefinition] {
    guard let config = try options.load() else {
        throw CLIFailure("no config file: networks are written from the config's [[network]] and access-networks")
    }
    let xml: XMLTemplates
    do { xml = try XMLTemplates(overrideDirectory: templates) } catch { throw CLIFailure(error.description) }
    let definitions = config.networkDefinitions(templates: xml)
    if definitions.isEmpty { printError("the config defines no [[network]] and no access-networks") }
    return definitions
}

/// Prints one line (or the JSON array) per network; failures go to stderr and make the exit status 1.
private func report(_ outcomes: [NetworkOutcome], json: Bool) throws {
    if json {
        print(JSON.encode(outcomes))
    } else {
        for outcome in outcomes {
            if outcome.action == .failed { printError(outcome.description) } else { print(outcome.description) }
        }
    }
    if outcomes.contains(where: { $0.action == .failed }) { throw ExitCode(1) }
}

struct NetworksPrintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "print",
        abstract: "Print the config's <network> definitions (no libvirt needed).",
        discussion: "EXIT STATUS: 0, or 1 when there is no config file or a template fails."
    )

    @OptionGroup var config: ConfigOptions

    @Option(help: ArgumentHelp("Directory of templates overriding the built-in ones.", valueName: "dir"))
    var templates: String?

    func run() throws {
        for definition in try configuredNetworks(config, templates: templates) { print(definition.xml, terminator: "") }
    }
}

struct NetworksDefineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "define",
        abstract: "Define the config's networks in libvirt (idempotent).",
        discussion: """
            A network libvirt does not have is defined. One it has is compared with vlanwire's \
            definition in what vlanwire sets (forward mode, bridge, portgroups and their default flag) \
            and redefined, keeping its UUID, only when they differ; each line says what changed:

              lan: portgroup router added
              eth0-vlan5: unchanged

            A running network keeps its old definition until restarted (the line says so). \
            --start starts networks that are not running; --autostart switches autostart on. \
            Nothing else is touched.

            EXIT STATUS: 0; 1 when there is no config file or libvirt refused any network.
            """
    )

    @OptionGroup var config: ConfigOptions
    @OptionGroup var connection: ConnectOptions

    @Flag(help: "Start each network that is not running.")
    var start = false

    @Flag(help: "Make libvirtd start each network when it starts.")
    var autostart = false

    @Option(help: ArgumentHelp("Directory of templates overriding the built-in ones.", valueName: "dir"))
    var templates: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let definitions = try configuredNetworks(config, templates: templates)
        do { try LibvirtConnection.check(definitions) } catch { throw CLIFailure(error.description) }
        let outcomes = try connection.connect().defineNetworks(definitions, start: start, autostart: autostart)
        try report(outcomes, json: json)
    }
}

struct NetworksUndefineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undefine",
        abstract: "Remove the config's networks from libvirt.",
        discussion: """
            Only the networks the config describes (by name) are removed; a running one is stopped \
            first. Networks libvirt does not have are reported as `not defined`.

            EXIT STATUS: 0; 1 when there is no config file or libvirt refused any network.
            """
    )

    @OptionGroup var config: ConfigOptions
    @OptionGroup var connection: ConnectOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let names = try configuredNetworks(config, templates: nil).map(\.name)
        let outcomes = try connection.connect().undefineNetworks(named: names)
        try report(outcomes, json: json)
    }
}
