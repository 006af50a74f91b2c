import Foundation
import Testing

/// Paths inside the repository, found from this file (tests do not depend on the working directory).
enum Repository {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func path(_ relative: String) -> String { root + "/" + relative }

    /// `Examples/*/vlanwire.toml`, sorted.
    static var exampleConfigs: [String] {
        let examples = path("Examples")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: examples)) ?? []
        return names.sorted().map { "\(examples)/\($0)/vlanwire.toml" }.filter { FileManager.default.fileExists(atPath: $0) }
    }
}

/// What a finished process printed, and how it ended.
struct ToolRun: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// Runs `executable` with `arguments` (no shell), with `environment` added to this process's.
func runTool(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ToolRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    // Read both to the end before waiting: a full pipe would block the child.
    let group = DispatchGroup()
    nonisolated(unsafe) var errorData = Data()
    DispatchQueue.global().async(group: group) { errorData = errors.fileHandleForReading.readDataToEndOfFile() }
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ToolRun(status: process.terminationStatus, stdout: String(decoding: outputData, as: UTF8.self),
                   stderr: String(decoding: errorData, as: UTF8.self))
}

/// The external programs these tests use, found once.
enum Tools {
    /// The `vlanwire` executable SwiftPM built next to this test bundle (`.build/debug/vlanwire`).
    static let vlanwire: String? = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        // swift test runs `.build/debug/vlanwirePackageTests.xctest`; some runners pass the
        // bundle's inner executable.
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        let candidate = directory.appendingPathComponent("vlanwire").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }()

    static let vlanwireMissing = "needs the vlanwire executable next to the test bundle (\(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path)/vlanwire); build it: swift build"

    /// libvirt's schema checker, from libvirt-clients.
    static let virtXMLValidate: String? = ["/usr/bin/virt-xml-validate", "/usr/local/bin/virt-xml-validate"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static let virtXMLValidateMissing = "needs virt-xml-validate (Debian package libvirt-clients, with xmllint from libxml2-utils); install them: scripts/install-deps"

    /// Runs `vlanwire ARGUMENTS`.
    static func vlanwire(_ arguments: String..., environment: [String: String] = [:]) throws -> ToolRun {
        let binary = try #require(vlanwire, "\(vlanwireMissing)")
        return try runTool(binary, arguments, environment: environment)
    }
}

/// A file in a fresh temporary directory, removed with the directory when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("vlanwire-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` in the directory and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
}

/// Validates `xml` against libvirt's RelaxNG schema `schema` (`network`, `domain`, …) with
/// virt-xml-validate; returns the tool's run (status 0 and "… validates" when valid).
func validateWithLibvirtSchema(_ xml: String, schema: String, in directory: TemporaryDirectory, name: String) throws -> ToolRun {
    let validator = try #require(Tools.virtXMLValidate, "\(Tools.virtXMLValidateMissing)")
    let file = try directory.write(name, xml)
    return try runTool(validator, [file, schema])
}
