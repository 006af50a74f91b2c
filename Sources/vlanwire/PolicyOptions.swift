import ArgumentParser
import VLANWire

/// A port policy on the command line (`set-port`, `interface-xml`): `--access VID`, or `--trunk SET`
/// with an optional `--native VID` (leaves untagged) or `--native-tagged VID` (leaves tagged).
struct PolicyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Access port: the guest sees this VLAN untagged.", valueName: "vid"))
    var access: String?

    @Option(help: ArgumentHelp("Trunk port: the guest sees these VLANs tagged, e.g. 1,5,10-20.", valueName: "set"))
    var trunk: String?

    @Option(help: ArgumentHelp("Trunk port: this VLAN leaves the port untagged.", valueName: "vid"))
    var native: String?

    @Option(
        help: ArgumentHelp(
            "Trunk port: the guest's untagged frames join this VLAN (one of --trunk's), and frames to the guest on it leave tagged (vlan-aware bridges only).",
            valueName: "vid"))
    var nativeTagged: String?

    /// How many of `--access` and `--trunk` were given.
    var count: Int { [access, trunk].compactMap { $0 }.count }

    func validate() throws {
        if native != nil, trunk == nil { throw ValidationError("--native goes with --trunk") }
        if nativeTagged != nil, trunk == nil { throw ValidationError("--native-tagged goes with --trunk") }
        if native != nil, nativeTagged != nil {
            throw ValidationError("give one of --native (the native VLAN leaves untagged) and --native-tagged (it leaves tagged)")
        }
    }

    /// The policy asked for; nil when neither `--access` nor `--trunk` was given.
    func policy() throws(ValueError) -> PortPolicy? {
        if let access { return .access(try VLANID(parsing: access)) }
        guard let trunk else { return nil }
        let tags = try VLANSet(parsing: trunk)
        if let nativeTagged {
            let id = try VLANID(parsing: nativeTagged)
            guard tags.contains(id) else {
                throw ValueError(
                    .portPolicy, "--trunk \(trunk) --native-tagged \(nativeTagged)",
                    "VLAN \(id) is not in the trunk's VLANs \(tags) (list it: --trunk \(tags.union(VLANSet(id))))")
            }
            return try .makeTrunk(tags: tags, native: id, nativeMode: .tagged)
        }
        let nativeID = try native.map { text throws(ValueError) in try VLANID(parsing: text) }
        return try .makeTrunk(tags: tags, native: nativeID)
    }
}
