// swift-tools-version: 6.1
import PackageDescription

// A benchmark peer: orchlog's RPCs served by grpc-swift 2 over orchlog's own store, plus a load
// generator. A separate package so that the main build, tests and CI never pay for gRPC (its
// release build takes minutes). See README.md.

/// The same settings as the main package, so the shared store sources compile identically.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "GRPCPeer",
    // grpc-swift 2 marks its API available from macOS 15; Linux has no such bound.
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "orchlog-grpc-peer", targets: ["orchlog-grpc-peer"]),
        .executable(name: "orchlog-grpc-load", targets: ["orchlog-grpc-load"]),
    ],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", exact: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The next four are symlinks to the main package's target directories (the store is
        // `package`-visible only, so it cannot be imported as a product); declared exactly as
        // /work/main/Package.swift declares them.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "OrchLogWire",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: swiftSettings
        ),
        .target(name: "CSQLiteWALBuffer", dependencies: ["CSQLite"]),
        .target(
            name: "OrchLogStore",
            dependencies: ["CSQLite", "CSQLiteWALBuffer", "OrchLogWire", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // Method descriptors and codecs shared by the server and the load generator.
        .target(
            name: "GRPCPeerMethods",
            dependencies: [
                "OrchLogWire",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ],
            swiftSettings: swiftSettings
        ),
        // The six RPCs as a grpc-swift 2 service over `LogStore`.
        .target(
            name: "GRPCPeerService",
            dependencies: [
                "GRPCPeerMethods", "OrchLogStore", "OrchLogWire",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "orchlog-grpc-peer",
            dependencies: [
                "GRPCPeerService", "OrchLogStore",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "orchlog-grpc-load",
            dependencies: [
                "GRPCPeerMethods", "OrchLogWire",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
