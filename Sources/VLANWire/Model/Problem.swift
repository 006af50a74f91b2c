/// One reason vlanwire refuses a guest: which guest, which NIC, why, and what to do about it.
/// libvirt prints the hook's stderr in `virsh start`'s error, so this is the user's whole clue.
public struct Problem: Error, Equatable, Sendable, CustomStringConvertible, Codable {
    public var guest: String
    /// The NIC's MAC as written (may be the invalid text itself); nil for guest-wide problems.
    public var nic: String?
    public var cause: String
    public var fix: String?

    public init(guest: String, nic: String? = nil, cause: String, fix: String? = nil) {
        self.guest = guest
        self.nic = nic
        self.cause = cause
        self.fix = fix
    }

    public init(guest: String, mac: MACAddress?, cause: String, fix: String? = nil) {
        self.init(guest: guest, nic: mac?.description, cause: cause, fix: fix)
    }

    /// One line: `guest 'web1', NIC 52:54:00:00:00:01: invalid VLAN id '4095': ... — fix: ...`
    public var description: String {
        var line = "guest '\(guest.escapedForDisplay)'"
        if let nic { line += ", NIC \(nic.escapedForDisplay)" }
        line += ": \(cause.withoutControlCharacters)"
        if let fix { line += " — fix: \(fix.withoutControlCharacters)" }
        return line
    }
}

/// vlanwire will not (or could not) do what a guest asks; one line per problem.
public struct Refusal: Error, Equatable, Sendable, CustomStringConvertible {
    public var problems: [Problem]
    public init(_ problems: [Problem]) { self.problems = problems }
    public init(_ problem: Problem) { self.problems = [problem] }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
