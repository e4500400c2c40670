// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]
let testSwiftSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "boxoffice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "boxoffice-api", targets: ["boxoffice-api"]),
        .executable(name: "boxoffice-worker", targets: ["boxoffice-worker"]),
        .executable(name: "boxofficectl", targets: ["boxofficectl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        // MARK: C libraries (one thin module each; all calls live in one folder of one adapter)
        .systemLibrary(
            name: "CHiredis", path: "Sources/CHiredis", pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(
            name: "CRdKafka", path: "Sources/CRdKafka", pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(
            name: "CJemalloc", path: "Sources/CJemalloc", pkgConfig: "jemalloc",
            providers: [.apt(["libjemalloc-dev"])]),
        .systemLibrary(
            name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]),

        // MARK: The allocator the executables link (jemalloc)
        .target(name: "BoxOfficeAllocator", dependencies: ["CJemalloc"], swiftSettings: swiftSettings),

        // MARK: Support: small helpers every module may use (duration units)
        .target(name: "BoxOfficeSupport", swiftSettings: swiftSettings),

        // MARK: Domain: pure types and rules, no I/O
        .target(name: "BoxOfficeDomain", dependencies: ["BoxOfficeSupport"], swiftSettings: swiftSettings),

        // MARK: Adapters: one per server, each wrapping its C library
        .target(
            name: "BoxOfficeRedis",
            dependencies: [
                "BoxOfficeSupport", "CHiredis",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "BoxOfficeKafka",
            dependencies: [
                "BoxOfficeSupport", "CRdKafka",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "BoxOfficePostgres",
            dependencies: [
                "BoxOfficeSupport", "CLibPQ",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("Migrations")],
            swiftSettings: swiftSettings),

        // MARK: Inventory: seats in Redis (Lua scripts, coalesced reserves, the hold sweeper)
        .target(
            name: "BoxOfficeInventory",
            dependencies: [
                "BoxOfficeDomain", "BoxOfficeSupport", "BoxOfficeRedis",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("Lua")],
            swiftSettings: swiftSettings),

        // MARK: Persistence: the catalog, users and bookings in PostgreSQL (repositories)
        .target(
            name: "BoxOfficePersistence",
            dependencies: ["BoxOfficeDomain", "BoxOfficePostgres"],
            swiftSettings: swiftSettings),

        // MARK: Pipeline: outbox relay and repair loop (Redis → Kafka), booking consumer (Kafka → PostgreSQL)
        .target(
            name: "BoxOfficePipeline",
            dependencies: [
                "BoxOfficeDomain", "BoxOfficeSupport", "BoxOfficeRedis", "BoxOfficeInventory", "BoxOfficeKafka", "BoxOfficePostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Runtime: what every process starts with (settings, logging, start-up checks, clients, reporter)
        .target(
            name: "BoxOfficeRuntime",
            dependencies: [
                "BoxOfficeDomain", "BoxOfficeSupport", "BoxOfficeRedis", "BoxOfficeKafka", "BoxOfficePostgres", "BoxOfficeInventory",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),

        // MARK: HTTP basics both servers use: problem documents, health, readiness and metrics routes
        .target(
            name: "BoxOfficeHTTP",
            dependencies: [
                "BoxOfficeRuntime", "BoxOfficeRedis", "BoxOfficePostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),

        // MARK: The API's HTTP layer: middleware, auth, routes, and the API process's composition
        .target(
            name: "BoxOfficeAPI",
            dependencies: [
                "BoxOfficeDomain", "BoxOfficeSupport", "BoxOfficeRedis", "BoxOfficeKafka", "BoxOfficePostgres", "BoxOfficeInventory",
                "BoxOfficePersistence", "BoxOfficePipeline", "BoxOfficeRuntime", "BoxOfficeHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            resources: [.embedInCode("Resources"), .embedInCode("App")],
            swiftSettings: swiftSettings),

        // MARK: Executables (the worker composes itself: it links no routes, JWT or bcrypt)
        .executableTarget(
            name: "boxoffice-api", dependencies: ["BoxOfficeAPI", "BoxOfficeRuntime", "BoxOfficeAllocator"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "boxoffice-worker",
            dependencies: [
                "BoxOfficeRuntime", "BoxOfficeHTTP", "BoxOfficePipeline", "BoxOfficeKafka", "BoxOfficeAllocator",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "boxofficectl",
            dependencies: [
                "BoxOfficeAPI", "BoxOfficeRuntime", "BoxOfficePersistence", "BoxOfficePostgres", "BoxOfficeInventory", "BoxOfficeDomain",
                "BoxOfficeRedis", "BoxOfficePipeline", "BoxOfficeSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "boxoffice-bench",
            dependencies: [
                "BoxOfficeDomain", "BoxOfficeSupport", "BoxOfficeInventory", "BoxOfficeRedis", "BoxOfficePipeline", "BoxOfficePostgres",
                "BoxOfficeKafka", "BoxOfficeAllocator",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Tests
        .testTarget(
            name: "BoxOfficeUnitTests",
            dependencies: [
                "BoxOfficeDomain", "BoxOfficeSupport", "BoxOfficeAPI", "BoxOfficeHTTP", "BoxOfficeRuntime", "BoxOfficePersistence",
                "BoxOfficeRedis", "BoxOfficePostgres", "BoxOfficeInventory", "BoxOfficePipeline", "BoxOfficeKafka",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: testSwiftSettings),
        .testTarget(
            name: "BoxOfficeIntegrationTests",
            dependencies: [
                "BoxOfficeAPI", "BoxOfficeHTTP", "BoxOfficeRuntime", "BoxOfficePersistence", "BoxOfficeSupport",
                "BoxOfficeRedis", "BoxOfficeKafka", "BoxOfficePostgres", "BoxOfficeInventory", "BoxOfficeDomain", "BoxOfficePipeline",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: testSwiftSettings),
    ],
    swiftLanguageModes: [.v6]
)
