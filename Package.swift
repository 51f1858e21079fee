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
    traits: [
        .trait(
            name: "PostgreSQL",
            description: "The PostgreSQL storage backend (postgres-nio, SwiftNIO, TLS): `--store postgres://…`."),
        .trait(
            name: "Webhooks",
            description: "Delivery of webhook notifications over http and https (SwiftNIO, NIOSSL's BoringSSL)."),
        .default(enabledTraits: ["PostgreSQL", "Webhooks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
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
        // Leaves: pure value code.
        .target(name: "WorkflowModel", swiftSettings: strictSettings),
        .target(name: "JSON", swiftSettings: strictSettings),
        .target(name: "HTTP1", swiftSettings: strictSettings),
        // SHA-256, HMAC, base64, hex: small and dependency-free.
        .target(name: "Codecs", swiftSettings: strictSettings),
        // Notification groups, webhooks, the events a change causes, payloads, retry rules.
        .target(
            name: "Notifications", dependencies: ["WorkflowModel", "JSON", "Codecs"], swiftSettings: strictSettings),
        // The operator pages (HTML and SVG rendered from the store's values), served by WorkflowAPI.
        .target(
            name: "WebUI", dependencies: ["WorkflowModel", "Storage", "Notifications", "Interchange"],
            swiftSettings: strictSettings),
        // The storage protocol and the values that cross it; every backend conforms.
        .target(name: "Storage", dependencies: ["WorkflowModel", "Notifications"], swiftSettings: strictSettings),
        // The embedded backend: the model on LMDB.
        .target(
            name: "LMDBStore", dependencies: ["LMDB", "Storage", "Notifications", "WorkflowModel"],
            swiftSettings: strictSettings),
        // The backend for several hosts: the model on PostgreSQL (Hyades' WORKFLOW_STATE schema).
        .target(
            name: "PostgresStore",
            dependencies: [
                "Storage", "Notifications", "WorkflowModel",
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"])),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings),
        // JSON shapes of workflows and of Dependency-Track's answers, export/import, Hyades CSV.
        .target(
            name: "Interchange", dependencies: ["JSON", "Storage", "WorkflowModel"], swiftSettings: strictSettings),
        // C boundary: accept4/epoll/eventfd/connect and sockaddr handling. Only Sockets imports it.
        .target(name: "CPosix"),
        .target(name: "Sockets", dependencies: ["CPosix"], swiftSettings: strictSettings),
        .target(name: "HTTPServer", dependencies: ["Sockets", "HTTP1", "JSON"], swiftSettings: strictSettings),
        // A blocking HTTP/1.1 client and a typed client of bomflow's own API (worker, tests).
        .target(
            name: "BomflowClient", dependencies: ["Sockets", "HTTP1", "JSON", "WorkflowModel"],
            swiftSettings: strictSettings),
        // The REST API without sockets: router, handlers, writer, waiters, keys, metrics.
        .target(
            name: "WorkflowAPI",
            dependencies: [
                "WorkflowModel", "Storage", "JSON", "Interchange", "HTTP1", "Codecs", "Notifications", "WebUI",
                "Sockets",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("openapi.json")],
            swiftSettings: strictSettings),
        // Webhook delivery: claims due deliveries from the outbox, sends them (SwiftNIO, TLS by
        // NIOSSL; HTTP/1.1 by our HTTP1), reports the outcome. Without the trait Webhooks it only
        // says that this build cannot deliver.
        .target(
            name: "WebhookDelivery",
            dependencies: [
                "Storage", "Notifications", "HTTP1", "WorkflowModel", "Sockets",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["Webhooks"])),
                .product(name: "NIOPosix", package: "swift-nio", condition: .when(traits: ["Webhooks"])),
                .product(name: "NIOSSL", package: "swift-nio-ssl", condition: .when(traits: ["Webhooks"])),
            ],
            swiftSettings: strictSettings),
        // The server runtime: the API on the HTTP server, housekeeping, parent watch, key bootstrap.
        .target(
            name: "BomflowServer",
            dependencies: [
                "WorkflowAPI", "HTTPServer", "HTTP1", "Storage", "LMDBStore", "WorkflowModel", "JSON",
                "WebhookDelivery", "Notifications", "Sockets",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "bomflow",
            dependencies: [
                "BomflowServer", "BomflowClient", "WorkflowAPI", "Interchange", "LMDBStore", "Storage",
                "WorkflowModel", "JSON", "Notifications", "WebhookDelivery", "Sockets",
                .target(name: "PostgresStore", condition: .when(traits: ["PostgreSQL"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Test and benchmark tooling: drives the store from separate processes
        // (multi-process tests, scripts/crash-test, scripts/bench). Not shipped.
        .executableTarget(
            name: "StoreDriver",
            dependencies: [
                "LMDBStore", "Storage", "WorkflowModel", "JSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // The HTTP layer alone with a fixture handler: tests of the real process and scripts/bench.
        .executableTarget(name: "HTTPFixture", dependencies: ["HTTPServer", "HTTP1"], swiftSettings: strictSettings),
        .target(
            name: "TestSupport", dependencies: ["WorkflowModel"], path: "Tests/TestSupport",
            swiftSettings: strictSettings),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "HTTPServerTests",
            dependencies: ["HTTPServer", "HTTP1", "HTTPFixture", "BomflowClient", "TestSupport"],
            swiftSettings: strictSettings),
        .testTarget(name: "JSONTests", dependencies: ["JSON"], swiftSettings: strictSettings),
        .testTarget(
            name: "InterchangeTests",
            dependencies: ["Interchange", "JSON", "Storage", "WorkflowModel", "TestSupport"],
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
            dependencies: [
                "WorkflowAPI", "WorkflowModel", "Storage", "LMDBStore", "JSON", "Interchange", "HTTP1", "TestSupport",
                "Codecs", "Notifications",
                .target(name: "PostgresStore", condition: .when(traits: ["PostgreSQL"])),
            ],
            swiftSettings: strictSettings),
        .testTarget(
            name: "bomflowTests",
            dependencies: [
                "bomflow", "BomflowServer", "BomflowClient", "TestSupport", "WorkflowModel", "Storage", "LMDBStore",
                "HTTPServer", "HTTP1", "JSON", "Codecs", "Notifications",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LMDBStoreTests",
            dependencies: [
                "LMDBStore", "Storage", "WorkflowModel", "LMDB", "TestSupport", "StoreDriver", "Notifications",
                .target(name: "PostgresStore", condition: .when(traits: ["PostgreSQL"])),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
