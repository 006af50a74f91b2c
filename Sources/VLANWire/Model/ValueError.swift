/// A value that failed validation: what it was meant to be, the text given, and why it was refused.
///
/// Every validated type (`VLANID`, `VLANSet`, `LinkName`, `MACAddress`, `PortPolicy`) throws this,
/// so callers can add the guest and NIC the value belongs to (see `Problem`).
public struct ValueError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Subject: String, Sendable, Codable {
        case vlanID = "VLAN id"
        case vlanSet = "VLAN set"
        case linkName = "link name"
        case macAddress = "MAC address"
        case portPolicy = "port policy"
    }

    public var subject: Subject
    /// The offending input, as given (control characters escaped when printed).
    public var input: String
    public var reason: String

    public init(_ subject: Subject, _ input: String, _ reason: String) {
        self.subject = subject
        self.input = input
        self.reason = reason
    }

    public var description: String {
        "invalid \(subject.rawValue) '\(input.escapedForDisplay)': \(reason)"
    }
}

extension String {
    /// The string with control characters and non-printing bytes made visible, so a hostile value
    /// cannot forge extra lines in an error message or a log.
    package var escapedForDisplay: String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out.count > 200 ? String(out.prefix(200)) + "…" : out
    }
}

extension String {
    /// Control characters shown as `\u{..}` (backslashes kept as they are), for text that may
    /// already hold escaped values but must stay one line.
    package var withoutControlCharacters: String {
        guard unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return self }
        var out = ""
        for scalar in unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += scalar == "\n" ? "\\n" : "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
