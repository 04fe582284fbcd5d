// swift-tools-version:6.0
// The benchmarks live in their own package so that `make test` (the root package) never builds them;
// `make bench` builds this one in release mode with its own scratch path.
import PackageDescription

let package = Package(
    name: "FireWatchBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "FireWatch", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "fw-bench",
            dependencies: [
                .product(name: "Modbus", package: "FireWatch"),
                .product(name: "FireSafety", package: "FireWatch"),
                .product(name: "AlertLog", package: "FireWatch"),
                .product(name: "Gateway", package: "FireWatch"),
                .product(name: "Simulator", package: "FireWatch"),
                .product(name: "SiteConfig", package: "FireWatch"),
                .product(name: "Scenarios", package: "FireWatch"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/FireWatchBench"
        )
    ],
    swiftLanguageModes: [.v6]
)
