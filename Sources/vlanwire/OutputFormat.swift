import ArgumentParser

/// `--format` of the commands that can draw: text (default), JSON, or a Graphviz picture.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, dot

    static let help = ArgumentHelp(
        "text, json, or dot (Graphviz: `| dot -Tsvg > host.svg`; problems in red). --json is --format json.",
        valueName: "format")

    /// `--format`, with the older `--json` flag meaning `--format json`.
    static func chosen(_ format: OutputFormat?, json: Bool) throws -> OutputFormat {
        if json, let format, format != .json { throw ValidationError("--json and --format \(format.rawValue) contradict each other") }
        return json ? .json : format ?? .text
    }
}
