// swift-tools-version: 6.1
// libFuzzer targets for vlanwire's parsers of untrusted input. A separate package (depending on the
// main one by path) so the main build never sees `-sanitize=fuzzer`; scripts/fuzz builds and runs it:
//   swift build --package-path Fuzz -Xswiftc -sanitize=fuzzer,address
import PackageDescription

let fuzzTarget: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "vlanwire-fuzz",
    dependencies: [.package(name: "vlanwire", path: "..")],
    targets: [
        .executableTarget(
            name: "FuzzDomainXML", dependencies: [.product(name: "VLANWire", package: "vlanwire")],
            swiftSettings: fuzzTarget),
        .executableTarget(
            name: "FuzzVLANSet", dependencies: [.product(name: "VLANWire", package: "vlanwire")],
            swiftSettings: fuzzTarget),
        .executableTarget(
            name: "FuzzConfig", dependencies: [.product(name: "VLANWire", package: "vlanwire")],
            swiftSettings: fuzzTarget),
    ],
    swiftLanguageModes: [.v6]
)
