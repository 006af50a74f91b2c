// swift-tools-version: 6.1
import PackageDescription

/// Strict settings for every target of ours (dependencies keep their own).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "vlanwire",
    products: [
        .executable(name: "vlanwire", targets: ["vlanwire"]),
        .library(name: "VLANWire", targets: ["VLANWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // Pure Swift: values, domain XML, config, observed state, planner, XML writing.
        .target(
            name: "VLANWire",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [.embedInCode("xml-templates")],
            swiftSettings: strict
        ),
        // libvirt's types and a dlopen-filled function table: libvirt is never linked (see its header).
        .target(name: "CLibvirtShims"),
        // Safe Swift over libvirt: connection, domains and their metadata, networks.
        .target(
            name: "VLANWireLibvirt",
            dependencies: [
                "VLANWire",
                "CLibvirtShims",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vlanwire",
            dependencies: [
                "VLANWire",
                "VLANWireLibvirt",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VLANWireTests",
            dependencies: ["VLANWire"],
            exclude: ["Fixtures", "Golden"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VLANWireLibvirtTests",
            dependencies: [
                "VLANWireLibvirt",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
