import Foundation

/// Paths inside the repository, found from this file: tests do not depend on the working directory.
public enum Repository {
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static func path(_ relative: String) -> String { root + "/" + relative }

    public static func read(_ relative: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }

    public static func text(_ relative: String) throws -> String {
        String(decoding: try read(relative), as: UTF8.self)
    }

    /// Files in a repository directory whose names end in `suffix`, as repository paths, sorted.
    public static func files(in relative: String, suffix: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path(relative))) ?? []
        return names.filter { $0.hasSuffix(suffix) }.sorted().map { relative + "/" + $0 }
    }

    /// `Examples/*/vlanwire.toml`, as absolute paths, sorted.
    public static var exampleConfigs: [String] {
        let examples = path("Examples")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: examples)) ?? []
        return names.sorted().map { "\(examples)/\($0)/vlanwire.toml" }.filter { FileManager.default.fileExists(atPath: $0) }
    }
}

/// The `vlanwire` executable under test.
public enum Binary {
    /// The one SwiftPM built next to this test bundle (`.build/debug/vlanwire`).
    public static let vlanwire: String = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // swift test runs `.build/debug/vlanwirePackageTests.xctest`; some runners pass the bundle's inner executable.
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        let besideBundle = directory.appendingPathComponent("vlanwire").path
        return FileManager.default.isExecutableFile(atPath: besideBundle) ? besideBundle : Repository.path(".build/debug/vlanwire")
    }()

    public static var isBuilt: Bool { FileManager.default.isExecutableFile(atPath: vlanwire) }

    /// The lean hook, `vlanwire-hook`, built beside `vlanwire`.
    public static let lean: String = URL(fileURLWithPath: vlanwire).deletingLastPathComponent().appendingPathComponent("vlanwire-hook").path

    public static var missing: String { "needs the built vlanwire executable (\(vlanwire)): swift build" }

    /// What runs as libvirt's hook where a test says so: `VLANWIRE_HOOK_BINARY` (the lab passes the
    /// release build's vlanwire-hook, as installed), else this build's vlanwire.
    public static let hook: String =
        ProcessInfo.processInfo.environment["VLANWIRE_HOOK_BINARY"].flatMap { $0.isEmpty ? nil : $0 } ?? vlanwire
}
