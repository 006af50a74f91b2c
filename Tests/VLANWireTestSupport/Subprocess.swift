import Foundation

/// How a finished (or killed) process ended and what it printed.
public struct ProcessRun: Sendable, CustomStringConvertible {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var seconds: Double
    public var timedOut: Bool

    public init(status: Int32, stdout: String, stderr: String, seconds: Double, timedOut: Bool) {
        (self.status, self.stdout, self.stderr, self.seconds, self.timedOut) = (status, stdout, stderr, seconds, timedOut)
    }

    public var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    public var description: String { "exit \(status)\(timedOut ? " (timed out)" : "")\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// A program that exited with a status other than 0, with what it said.
public struct CommandFailed: Error, CustomStringConvertible {
    public var description: String
}

/// The one way these tests run a program: no shell, stdin fed from a thread (a reader that stops
/// early is not an error), both outputs read to the end, a hard time bound (killed past it).
public enum Subprocess {
    /// Runs `program ARGUMENTS`. The environment is this process's plus `environment`, or, with
    /// `cleanEnvironment`, `bareEnvironment` plus `environment` (about what libvirt gives its hook).
    public static func run(
        _ program: String, _ arguments: [String], stdin: [UInt8] = [], environment: [String: String] = [:],
        cleanEnvironment: Bool = false, timeout: Duration = .seconds(60)
    ) throws -> ProcessRun {
        // A child that refuses its input early closes the pipe: EPIPE for the feeder, not SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let base = cleanEnvironment ? bareEnvironment : ProcessInfo.processInfo.environment
        process.environment = base.merging(environment) { $1 }
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        let start = ContinuousClock.now
        try process.run()
        let feeder = Thread {
            let handle = input.fileHandleForWriting
            stdin.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let count = write(handle.fileDescriptor, raw.baseAddress! + offset, min(65_536, raw.count - offset))
                    if count <= 0 { break }  // EPIPE: the reader refused early
                    offset += count
                }
            }
            try? handle.close()
        }
        feeder.start()
        let collected = Collected()
        let group = DispatchGroup()
        for (pipe, isOut) in [(output, true), (errors, false)] {
            group.enter()
            DispatchQueue.global().async {
                collected.set(pipe.fileHandleForReading.readDataToEndOfFile(), isOut: isOut)
                group.leave()
            }
        }
        var timedOut = false
        if group.wait(timeout: .now() + Double(timeout.components.seconds)) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            group.wait()
        }
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - start
        return ProcessRun(
            status: process.terminationStatus, stdout: collected.text(true), stderr: collected.text(false),
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, timedOut: timedOut)
    }

    /// A PATH, and the sanitizers' settings of a `scripts/leaks` run: a child built with
    /// AddressSanitizer reads the same suppressions as the tests.
    public static var bareEnvironment: [String: String] {
        let inherited = ["ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "LD_PRELOAD"]
        var environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        for name in inherited { environment[name] = ProcessInfo.processInfo.environment[name] }
        return environment
    }

    /// Runs `program ARGUMENTS` and returns its standard output; throws `CommandFailed` unless it exits 0.
    @discardableResult
    public static func output(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let run = try run(program, arguments, environment: environment, timeout: .seconds(120))
        guard run.status == 0, !run.timedOut else {
            throw CommandFailed(description: "\(program) \(arguments.joined(separator: " ")): exit \(run.status): \(run.stderr)")
        }
        return run.stdout
    }

    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var out = Data(), err = Data()
        func set(_ data: Data, isOut: Bool) { lock.withLock { if isOut { out = data } else { err = data } } }
        func text(_ isOut: Bool) -> String { lock.withLock { String(decoding: isOut ? out : err, as: UTF8.self) } }
    }
}

/// A fresh temporary directory, removed with everything in it when the value goes.
public final class TemporaryDirectory {
    public let path: String

    public init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("vlanwire-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` in the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        try write(name, Array(text.utf8))
    }

    /// Writes `bytes` to `name` in the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }
}
