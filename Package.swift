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

        // MARK: Domain: pure types and rules, no I/O
        .target(name: "BoxOfficeDomain", swiftSettings: swiftSettings),

        // MARK: Adapters
        .target(
            name: "BoxOfficeRedis",
            dependencies: [
                "BoxOfficeDomain", "CHiredis",
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
                "BoxOfficeDomain", "CRdKafka",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "BoxOfficePostgres",
            dependencies: [
                "CLibPQ",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("Migrations")],
            swiftSettings: swiftSettings),

        .target(
            name: "BoxOfficeInventory",
            dependencies: [
                "BoxOfficeDomain", "BoxOfficeRedis",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("Lua")],
            swiftSettings: swiftSettings),

        .target(
            name: "BoxOfficePipeline",
            dependencies: [
                "BoxOfficeDomain", "BoxOfficeRedis", "BoxOfficeInventory", "BoxOfficeKafka", "BoxOfficePostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Application: configuration, HTTP layer, service composition
        .target(
            name: "BoxOfficeApp",
            dependencies: [
                "BoxOfficeDomain", "BoxOfficeRedis", "BoxOfficeKafka", "BoxOfficePostgres", "BoxOfficeInventory", "BoxOfficePipeline",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.embedInCode("Resources")],
            swiftSettings: swiftSettings),

        // MARK: Executables
        .executableTarget(
            name: "boxoffice-api", dependencies: ["BoxOfficeApp", "BoxOfficeAllocator"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "boxoffice-worker", dependencies: ["BoxOfficeApp", "BoxOfficeAllocator"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "boxofficectl",
            dependencies: [
                "BoxOfficeApp", "BoxOfficePostgres", "BoxOfficeInventory", "BoxOfficeDomain", "BoxOfficeRedis", "BoxOfficePipeline",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "boxoffice-bench",
            dependencies: [
                "BoxOfficeDomain", "BoxOfficeInventory", "BoxOfficeRedis", "BoxOfficePipeline", "BoxOfficePostgres", "BoxOfficeKafka",
                "BoxOfficeAllocator",
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
                "BoxOfficeDomain", "BoxOfficeApp", "BoxOfficeRedis", "BoxOfficePostgres", "BoxOfficeInventory", "BoxOfficePipeline",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: testSwiftSettings),
        .testTarget(
            name: "BoxOfficeIntegrationTests",
            dependencies: [
                "BoxOfficeApp", "BoxOfficeRedis", "BoxOfficeKafka", "BoxOfficePostgres", "BoxOfficeInventory", "BoxOfficeDomain", "BoxOfficePipeline",
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
