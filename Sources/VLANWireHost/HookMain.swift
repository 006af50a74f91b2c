import Logging
package import VLANWire
import VLANWireNetlink

#if canImport(Glibc)
    import Glibc
#endif

/// libvirt's call, as both executables take it: `vlanwire-hook GUEST OP SUBOP EXTRA` and
/// `vlanwire hook qemu GUEST OP SUBOP EXTRA`, with the domain XML on stdin.
package enum HookMain {
    /// Runs the hook for libvirt's arguments (`GUEST OP SUBOP EXTRA`); returns the exit status.
    /// Everything in `arguments` is libvirt's and never an option: a guest named `--help` is wired.
    package static func run(libvirtArguments arguments: [String]) -> Int32 {
        let guest = arguments.first ?? "unknown"
        let operation = arguments.count > 1 ? arguments[1] : ""
        let neverFails = !(HookOperation(rawValue: operation)?.mayRefuse ?? false)
        CrashLine.install(context: "hook qemu \(arguments.prefix(2).joined(separator: " "))", exitStatus: neverFails ? 0 : 1)
        let logger = Logger.forHook()
        /// A problem before the hook could run: logged; on stderr and exit 1 only where libvirt may
        /// be refused (unreadable input must not kill running guests nor block cleanup).
        func failed(_ line: String) -> Int32 {
            logger.error("\(line)")
            if neverFails { return 0 }
            printError("vlanwire: " + line)
            return 1
        }
        let xml: [UInt8]
        do { xml = try FileAccess.readAll(fd: 0, path: "stdin", limit: XMLDocumentParser.defaultMaximumSize + 1) } catch {
            return failed(Problem(guest: guest, cause: "domain XML on \(error)", fix: "pass libvirt's domain XML (virsh dumpxml GUEST)").description)
        }
        let wiring = Wiring(store: StateStore.forNamespace(nil), config: nil, logger: logger, faultInjection: .fromTestEnvironment())
        let runner = HookRunner(wiring: wiring, loadConfig: { () throws(ConfigFile.LoadError) in try ConfigFile.load(path: nil) })
        let result = runner.run(arguments: arguments, xml: xml)
        if !result.stdout.isEmpty { FileAccess.writeAll(fd: 1, result.stdout) }
        for line in result.errors { printError(line) }
        return result.exitCode
    }

    /// One line on stderr: libvirt shows the hook's stderr to whoever started the guest.
    package static func printError(_ message: String) {
        FileAccess.writeAll(fd: 2, (message + "\n").utf8)
    }
}

/// Where the config comes from: `--config`, else `VLANWIRE_CONFIG`, else /etc/vlanwire/vlanwire.toml.
package enum ConfigFile {
    package struct LoadError: Error, CustomStringConvertible {
        package var description: String
    }

    /// The config at `path`, else at `VLANWIRE_CONFIG` (absolute paths only: the hook's working
    /// directory is libvirt's), else at the default path; nil when the default path has no file.
    package static func load(path: String?) throws(LoadError) -> HostConfig? {
        let environment = getenv("VLANWIRE_CONFIG").map { String(cString: $0) }
        if path == nil, let environment, !environment.hasPrefix("/") {
            throw LoadError(description: "VLANWIRE_CONFIG must be an absolute path, not '\(environment.escapedForDisplay)'")
        }
        do { return try HostConfig.load(path: path ?? environment) } catch { throw LoadError(description: error.description) }
    }
}
