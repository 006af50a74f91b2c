import Foundation
import Testing
import VLANWireTestSupport

/// The external programs these tests use, found once.
enum Tools {
    /// Runs the built `vlanwire ARGUMENTS` with this process's environment plus `environment`.
    static func vlanwire(_ arguments: String..., environment: [String: String] = [:]) throws -> ProcessRun {
        try #require(Binary.isBuilt, "\(Binary.missing)")
        return try Subprocess.run(Binary.vlanwire, arguments, environment: environment)
    }

    /// libvirt's schema checker, from libvirt-clients.
    static let virtXMLValidate: String? = ["/usr/bin/virt-xml-validate", "/usr/local/bin/virt-xml-validate"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static let virtXMLValidateMissing =
        "needs virt-xml-validate (Debian package libvirt-clients, with xmllint from libxml2-utils); install them: scripts/install-deps"
}

/// Validates `xml` against libvirt's RelaxNG schema `schema` (`network`, `domain`, …) with
/// virt-xml-validate; returns the tool's run (status 0 and "… validates" when valid).
func validateWithLibvirtSchema(_ xml: String, schema: String, in directory: TemporaryDirectory, name: String) throws -> ProcessRun {
    let validator = try #require(Tools.virtXMLValidate, "\(Tools.virtXMLValidateMissing)")
    let file = try directory.write(name, xml)
    return try Subprocess.run(validator, [file, schema])
}
