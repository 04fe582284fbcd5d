// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "FireWatch",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "firewatch", targets: ["firewatch"]),
        .library(name: "Modbus", targets: ["Modbus"]),
        .library(name: "FireSafety", targets: ["FireSafety"]),
        .library(name: "AlertLog", targets: ["AlertLog"]),
        // For Benchmarks/ (a separate package, so `make test` never builds it).
        .library(name: "Gateway", targets: ["Gateway"]),
        .library(name: "Simulator", targets: ["Simulator"]),
        .library(name: "SiteConfig", targets: ["SiteConfig"]),
        .library(name: "Scenarios", targets: ["Scenarios"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
    ],
    targets: [
        // libmodbus from Debian's libmodbus-dev, found by pkg-config.
        .systemLibrary(
            name: "CModbus",
            pkgConfig: "libmodbus",
            providers: [.apt(["libmodbus-dev"])]
        ),
        .target(
            name: "Modbus",
            dependencies: ["CModbus", .product(name: "Logging", package: "swift-log")]
        ),
        // The pure safety engine: no I/O, no clock reads, imports nothing of ours.
        .target(name: "FireSafety"),
        // The alert log: writer, reader, the one line type, file set and chain verifier, checkpoints and recovery;
        // Query/ holds the views behind `firewatch alerts` (filter, follow, summary, formatting).
        .target(
            name: "AlertLog",
            dependencies: [
                "FireSafety",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The site as its files say it: YAML with locations, site and profile loading and validation, durations,
        // the site clock. Both the daemon and the simulator read sites through it.
        .target(
            name: "SiteConfig",
            dependencies: [
                "Modbus", "FireSafety",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "Modbus", "FireSafety", "AlertLog", "SiteConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // The simulator serves devices from the very profiles the daemon reads, so it reads them with SiteConfig's
        // loader (and serves them with Modbus's Server); it knows nothing of the daemon.
        .target(
            name: "Simulator",
            dependencies: [
                "FireSafety", "Modbus", "SiteConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The test rig around a site: scenario runs that put the simulator and the real daemon on one clock, and
        // the verdicts on what the scenario expected. Used by `firewatch demo` and the scenario tests.
        .target(
            name: "Scenarios",
            dependencies: [
                "FireSafety", "SiteConfig", "Gateway", "Simulator",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "firewatch",
            dependencies: [
                "Gateway", "AlertLog", "Modbus", "FireSafety", "SiteConfig", "Simulator", "Scenarios",
                .product(name: "Yams", package: "Yams"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What every test suite shares: a seeded generator, a temporary directory, a hand-moved site clock, the
        // checkout's root, a raw TCP peer for bytes no client would send, and the one finder of the built
        // `firewatch` (which fails a test, never skips it).
        .target(
            name: "FireWatchTesting",
            dependencies: ["CModbus", "Modbus", "FireSafety", "AlertLog", "SiteConfig", "Gateway", "Simulator"],
            path: "Tests/FireWatchTesting"),
        .testTarget(name: "ModbusTests", dependencies: ["Modbus", "FireWatchTesting"]),
        .testTarget(name: "FireSafetyTests", dependencies: ["FireSafety", "FireWatchTesting"]),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "AlertLog", "Modbus", "FireSafety", "SiteConfig", "FireWatchTesting",
                // EtcdCluster: real etcd members for the standby pair's tests.
                "Scenarios",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "AlertLogTests",
            dependencies: [
                "AlertLog", "FireSafety", "FireWatchTesting", "Simulator", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The command line's own parts that are not a module's (where `firewatch alerts` finds the log, its time
        // bounds); everything else of the CLI is tested by running the built binary.
        .testTarget(name: "FirewatchTests", dependencies: ["firewatch", "AlertLog", "FireWatchTesting"]),
        .testTarget(name: "SimulatorTests", dependencies: [
                "Simulator", "Scenarios", "Gateway", "AlertLog", "Modbus", "FireSafety", "SiteConfig", "CModbus",
                "FireWatchTesting",
            ]),
    ],
    swiftLanguageModes: [.v6]
)
