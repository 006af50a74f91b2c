import ArgumentParser
import Testing
import VLANWireTestSupport

@testable import vlanwire

/// Every command's help says what its exit status means (scripts and systemd read it).
struct CommandHelpTests {
    static func allCommands(_ command: any ParsableCommand.Type = VLANWireCommand.self) -> [any ParsableCommand.Type] {
        [command] + command.configuration.subcommands.flatMap { allCommands($0) }
    }

    @Test func everyCommandsHelpHasAnExitStatus() {
        let commands = Self.allCommands()
        #expect(commands.count >= 15)
        for command in commands {
            let name = command._commandName
            #expect(command.helpMessage(columns: 100).contains("EXIT STATUS:"), "vlanwire \(name) --help says nothing of its exit status")
        }
    }

    /// `vlanwire --version` is the version scripts/package gives the Debian package (VERSION-REVISION):
    /// an upstream version Debian accepts (digits first, no hyphen).
    @Test func versionIsOneDebianUpstreamVersion() throws {
        #expect(VLANWireCommand.configuration.version == vlanwireVersion)
        #expect(vlanwireVersion.first?.isNumber == true)
        #expect(vlanwireVersion.allSatisfy { $0.isASCII && ($0.isNumber || $0.isLetter || ".+~".contains($0)) }, "\(vlanwireVersion)")
    }
}
