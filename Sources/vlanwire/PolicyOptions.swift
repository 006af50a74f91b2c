import ArgumentParser
import VLANWire

/// A port policy on the command line (`set-port`, `interface-xml`): `--access VID`, or `--trunk SET`
/// with an optional `--native VID`.
struct PolicyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Access port: the guest sees this VLAN untagged.", valueName: "vid"))
    var access: String?

    @Option(help: ArgumentHelp("Trunk port: the guest sees these VLANs tagged, e.g. 1,5,10-20.", valueName: "set"))
    var trunk: String?

    @Option(help: ArgumentHelp("Trunk port: this VLAN leaves the port untagged.", valueName: "vid"))
    var native: String?

    /// How many of `--access` and `--trunk` were given.
    var count: Int { [access, trunk].compactMap { $0 }.count }

    func validate() throws {
        if native != nil, trunk == nil { throw ValidationError("--native goes with --trunk") }
    }

    /// The policy asked for; nil when neither `--access` nor `--trunk` was given.
    func policy() throws(ValueError) -> PortPolicy? {
        if let access { return .access(try VLANID(parsing: access)) }
        guard let trunk else { return nil }
        let nativeID = try native.map { text throws(ValueError) in try VLANID(parsing: text) }
        return try .makeTrunk(tags: try VLANSet(parsing: trunk), native: nativeID)
    }
}
