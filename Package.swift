// swift-tools-version: 6.1
import PackageDescription

/// Swift 6 language mode everywhere; `ExistentialAny` keeps existential costs visible.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "orchlog",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "orchlogd", targets: ["orchlogd"]),
        .executable(name: "orchlog", targets: ["orchlog"]),
        .executable(name: "orchlog-bench", targets: ["orchlog-bench"]),
        .library(name: "OrchLogClient", targets: ["OrchLogClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The system libsqlite3 (Debian: libsqlite3-dev).
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // Linux's epoll and eventfd headers, which the Glibc module leaves out.
        .systemLibrary(name: "CEpoll"),
        // A VFS for the writer's connection that writes each commit's WAL frames in one call.
        .target(name: "CSQLiteWALBuffer", dependencies: ["CSQLite"]),
        // Frames, status codes, ids and the generated protobuf messages.
        .target(
            name: "OrchLogWire",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: swiftSettings
        ),
        // Non-blocking sockets on Dispatch-driven event loops with bounded, watermarked buffers.
        .target(
            name: "OrchLogNet",
            dependencies: ["CEpoll", "OrchLogWire", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // SQLite: the verbatim table, validation, group commit, readers, change feed.
        .target(
            name: "OrchLogStore",
            dependencies: ["CSQLite", "CSQLiteWALBuffer", "OrchLogWire", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // Calls, deadlines, credit, drain, and the six RPC handlers.
        .target(
            name: "OrchLogServer",
            dependencies: [
                "OrchLogWire", "OrchLogNet", "OrchLogStore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The bundled Swift client: retries, reconnects, resumable streams.
        .target(
            name: "OrchLogClient",
            dependencies: [
                "OrchLogWire", "OrchLogNet",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "orchlog",
            dependencies: [
                "OrchLogClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "orchlogd",
            dependencies: [
                "OrchLogServer", "OrchLogStore", "OrchLogWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Swift driver of the cross-language interop suite (Tests/Interop/README.md).
        .executableTarget(
            name: "orchlog-interop",
            dependencies: [
                "OrchLogClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tests/Interop/swift",
            swiftSettings: swiftSettings
        ),
        // The benchmark: figures against same-run baselines (docs/PERFORMANCE.md).
        .executableTarget(
            name: "orchlog-bench",
            dependencies: [
                "OrchLogWire", "OrchLogNet", "OrchLogStore", "OrchLogTestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // Temporary directories, orchlogd as a process and the sqlite3 CLI: the test suites' and the bench's.
        .target(
            name: "OrchLogTestSupport",
            dependencies: ["OrchLogWire"],
            path: "Tests/OrchLogTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OrchLogWireTests",
            dependencies: ["OrchLogWire"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OrchLogNetTests",
            dependencies: ["OrchLogNet", "OrchLogWire", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OrchLogStoreTests",
            dependencies: ["OrchLogStore", "OrchLogWire", "OrchLogTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OrchLogClientTests",
            dependencies: [
                "OrchLogClient", "OrchLogServer", "OrchLogStore", "OrchLogNet", "OrchLogWire", "OrchLogTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OrchLogServerTests",
            dependencies: [
                "OrchLogServer", "OrchLogStore", "OrchLogWire", "OrchLogTestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
