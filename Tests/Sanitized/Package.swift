// swift-tools-version: 6.2
import PackageDescription

/// The HTTP server's tests and only the modules they need, for `scripts/test`'s ThreadSanitizer
/// step: the root package's test bundle links every test target, so building it under TSan
/// compiled the whole API, both stores and their tests (about 5 minutes of the CI's 30) to run
/// one suite. The sources are the root package's, through symlinks (Sources, HTTPServerTests,
/// TestSupport); the targets and settings below mirror its Package.swift, which stays the one
/// place that decides the module graph (scripts/check.sh compares the two).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .strictMemorySafety(),
    .treatWarning("StrictMemorySafety", as: .error),
]

let package = Package(
    name: "bomflow-sanitized",
    products: [
        .executable(name: "bomflow-http-fixture", targets: ["HTTPFixture"])
    ],
    targets: [
        .target(name: "WorkflowModel", path: "Sources/WorkflowModel", swiftSettings: strictSettings),
        .target(name: "JSON", path: "Sources/JSON", swiftSettings: strictSettings),
        .target(name: "HTTP1", path: "Sources/HTTP1", swiftSettings: strictSettings),
        .target(name: "CPosix", path: "Sources/CPosix"),
        .target(name: "Sockets", dependencies: ["CPosix"], path: "Sources/Sockets", swiftSettings: strictSettings),
        .target(
            name: "HTTPServer", dependencies: ["Sockets", "HTTP1", "JSON"], path: "Sources/HTTPServer",
            swiftSettings: strictSettings),
        .target(
            name: "BomflowClient", dependencies: ["Sockets", "HTTP1", "JSON", "WorkflowModel"],
            path: "Sources/BomflowClient", swiftSettings: strictSettings),
        .executableTarget(
            name: "HTTPFixture", dependencies: ["HTTPServer", "HTTP1"], path: "Sources/HTTPFixture",
            swiftSettings: strictSettings),
        .target(
            name: "TestSupport", dependencies: ["WorkflowModel"], path: "TestSupport", swiftSettings: strictSettings),
        .testTarget(
            name: "HTTPServerTests",
            dependencies: ["HTTPServer", "HTTP1", "HTTPFixture", "BomflowClient", "TestSupport"],
            path: "HTTPServerTests", swiftSettings: strictSettings),
    ]
)
