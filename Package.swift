// swift-tools-version: 6.2
import PackageDescription

/// Settings every Swift target gets (STYLE.md): explicit existentials, internal imports,
/// member import visibility, and strict memory safety as an error so that every unsafe
/// expression is marked with `unsafe` and visible in review.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .strictMemorySafety(),
    .treatWarning("StrictMemorySafety", as: .error),
]

let package = Package(
    name: "bomflow",
    products: [
        .executable(name: "bomflow", targets: ["bomflow"]),
        .executable(name: "bomflow-store-driver", targets: ["StoreDriver"]),
        .executable(name: "bomflow-http-fixture", targets: ["HTTPFixture"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // C boundary: liblmdb from the system (Debian: liblmdb-dev). Only LMDB imports it.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(name: "LMDB", dependencies: ["CLMDB"], swiftSettings: strictSettings),
        .target(name: "WorkflowModel", swiftSettings: strictSettings),
        .target(name: "HTTP1", swiftSettings: strictSettings),
        // C boundary: accept4/epoll/eventfd and sockaddr handling. Only HTTPServer imports it.
        .target(name: "CPosix"),
        .target(name: "HTTPServer", dependencies: ["CPosix", "HTTP1"], swiftSettings: strictSettings),
        .target(name: "WorkflowStore", dependencies: ["LMDB", "WorkflowModel"], swiftSettings: strictSettings),
        .target(
            name: "WorkflowAPI", dependencies: ["WorkflowModel", "WorkflowStore", "HTTP1"],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "bomflow",
            dependencies: [
                "WorkflowStore", "WorkflowModel", "WorkflowAPI", "HTTPServer", "HTTP1",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Test and benchmark tooling: drives the store from separate processes
        // (multi-process tests, scripts/crash-test, scripts/bench). Not shipped.
        .executableTarget(
            name: "StoreDriver",
            dependencies: ["WorkflowStore", "WorkflowModel", "LMDB"],
            swiftSettings: strictSettings
        ),
        // The HTTP layer alone with a fixture handler: tests of the real process and scripts/bench.
        .executableTarget(name: "HTTPFixture", dependencies: ["HTTPServer", "HTTP1"], swiftSettings: strictSettings),
        .target(
            name: "TestSupport", dependencies: ["WorkflowModel"], path: "Tests/TestSupport",
            swiftSettings: strictSettings),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "HTTPServerTests", dependencies: ["HTTPServer", "HTTP1", "HTTPFixture", "TestSupport"],
            swiftSettings: strictSettings),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "WorkflowModelTests",
            dependencies: [
                "WorkflowModel", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WorkflowAPITests",
            dependencies: ["WorkflowAPI", "WorkflowModel", "WorkflowStore", "HTTP1", "TestSupport"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "bomflowTests",
            dependencies: [
                "bomflow", "TestSupport", "WorkflowModel", "WorkflowStore", "HTTPServer", "HTTP1",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WorkflowStoreTests",
            dependencies: [
                "WorkflowStore", "WorkflowModel", "LMDB", "TestSupport", "StoreDriver",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
