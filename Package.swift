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
        .executable(name: "vlanwire-hook", targets: ["vlanwire-hook"]),
        .library(name: "VLANWire", targets: ["VLANWire"]),
        .library(name: "VLANWireNetlink", targets: ["VLANWireNetlink"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // Pure Swift, no dependencies: values, domain XML, config (its own TOML reader), observed state,
        // planner, state records, the NIC audit.
        .target(
            name: "VLANWire",
            swiftSettings: strict
        ),
        // The libvirt XML vlanwire writes (networks, interfaces, metadata), from the mustache
        // templates beside this package's manifest, embedded in the binary. The only user of swift-mustache.
        .target(
            name: "VLANWireTemplates",
            dependencies: [
                "VLANWire",
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            path: "xml-templates",
            resources: [
                .embedInCode("interface.xml.mustache"),
                .embedInCode("metadata.xml.mustache"),
                .embedInCode("network-access.xml.mustache"),
                .embedInCode("network-trunk.xml.mustache"),
            ],
            swiftSettings: strict
        ),
        // What vlanwire tells people: doctor's findings, trace, status and plan reports (values, JSON and text).
        .target(
            name: "VLANWireReports",
            dependencies: ["VLANWire"],
            swiftSettings: strict
        ),
        // libnl-3 + libnl-route-3 from the system (Debian: libnl-3-dev, libnl-route-3-dev).
        .systemLibrary(
            name: "CNetlink",
            pkgConfig: "libnl-route-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]
        ),
        // Small C for what libnl 3.7 lacks (AF_BRIDGE VLAN messages, bridge options) and C macros.
        .target(
            name: "CNetlinkShims",
            dependencies: ["CNetlink"]
        ),
        // Safe Swift over netlink, bound to one network namespace; applies planner actions.
        .target(
            name: "VLANWireNetlink",
            dependencies: [
                "VLANWire",
                "CNetlink",
                "CNetlinkShims",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // libvirt's types and a dlopen-filled function table: libvirt is never linked (see its header).
        .target(name: "CLibvirtShims"),
        // Safe Swift over libvirt: connection, domains and their metadata, networks.
        .target(
            name: "VLANWireLibvirt",
            dependencies: [
                "VLANWire",
                "VLANWireReports",
                "VLANWireTemplates",
                "CLibvirtShims",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The host side: state store, wiring runner, the hook.
        .target(
            name: "VLANWireHost",
            dependencies: [
                "VLANWire",
                "VLANWireNetlink",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // eventfd and signalfd, which Swift's Glibc module does not export.
        .target(name: "CWatchShims"),
        // `vlanwire watch`: libvirt's domain events and the kernel's link announcements drive repairs.
        .target(
            name: "VLANWireWatch",
            dependencies: [
                "CWatchShims",
                "VLANWire",
                "VLANWireNetlink",
                "VLANWireHost",
                "VLANWireLibvirt",
                "VLANWireReports",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // libvirt's qemu hook alone (what hooks/qemu execs): the core, netlink and host modules only.
        .executableTarget(
            name: "vlanwire-hook",
            dependencies: ["VLANWireHost"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vlanwire",
            dependencies: [
                "VLANWire",
                "VLANWireNetlink",
                "VLANWireHost",
                "VLANWireLibvirt",
                "VLANWireReports",
                "VLANWireTemplates",
                "VLANWireWatch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // What every test target shares: the repository's paths, the built binary, one subprocess
        // runner, throwaway network namespaces (Scene) and snapshots that settle, temporary files.
        .target(
            name: "VLANWireTestSupport",
            dependencies: [
                "VLANWire",
                "VLANWireHost",
                "VLANWireNetlink",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/VLANWireTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "VLANWireTests",
            dependencies: ["VLANWire", "VLANWireReports", "VLANWireTestSupport"],
            exclude: ["Fixtures", "Golden"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VLANWireLibvirtTests",
            dependencies: [
                "VLANWireTestSupport",
                "VLANWire",
                "VLANWireLibvirt",
                "VLANWireReports",
                "VLANWireTemplates",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Real kernel, each test in its own throwaway network namespace (root): the netlink layer,
        // the executor, the hook runner. `LabVLAN` suites need 802.1Q and bridge VLAN filtering
        // and run for real in the lab VM.
        .testTarget(
            name: "VLANWireNetlinkTests",
            dependencies: [
                "VLANWireTestSupport",
                "VLANWireWatch",
                "VLANWire",
                "VLANWireNetlink",
                "VLANWireHost",
                "VLANWireReports",
                "vlanwire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // vlanwire watch: which guests a change concerns (pure), and the kernel's link announcements (root).
        .testTarget(
            name: "VLANWireWatchTests",
            dependencies: [
                "VLANWireTestSupport",
                "VLANWire",
                "VLANWireNetlink",
                "VLANWireLibvirt",
                "VLANWireWatch",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Issue 9: bad input through the binary, injected faults and SIGKILL, concurrent hook
        // processes, state file attacks, the security properties (root, throwaway namespaces;
        // `LabVLAN` suites run in the lab VM).
        .testTarget(
            name: "VLANWireReliabilityTests",
            dependencies: [
                "VLANWireTestSupport",
                "VLANWire",
                "VLANWireNetlink",
                "VLANWireHost",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
