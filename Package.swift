// swift-tools-version:6.0
import PackageDescription

// Layers, arrows one way: Syntax → Semantics → Runtime → Services → Viewer → CLI.
let package = Package(
    name: "Sluice",
    // macOS 14: Hummingbird's floor (the viewer's web server).
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        // The layers as libraries, for embedding Sluice and for Benchmarks/.
        .library(name: "SluiceSyntax", targets: ["SluiceSyntax"]),
        .library(name: "SluiceSemantics", targets: ["SluiceSemantics"]),
        .library(name: "SluiceRuntime", targets: ["SluiceRuntime"]),
        .library(name: "SluiceServices", targets: ["SluiceServices"]),
        .library(name: "SluiceTokenizers", targets: ["SluiceTokenizers"]),
        .library(name: "SluiceStdlib", targets: ["SluiceStdlib"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Already Hummingbird's; named for the viewer's own imports (its logger, the bind error).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(name: "SluiceSyntax"),
        .target(name: "SluiceSemantics", dependencies: ["SluiceSyntax"]),
        .target(name: "SluiceRuntime", dependencies: ["SluiceSyntax", "SluiceSemantics"]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "SluiceServices", dependencies: ["SluiceRuntime", "SluiceTokenizers", "CSQLite", "CCurl"]),
        // `sluice traces serve`: the web trace viewer (HTML pages and SVG charts over a read-only store).
        .target(name: "SluiceViewer", dependencies: [
            "SluiceServices", .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
        ]),
        // The standard library's Sluice sources, embedded so the binary is self-contained
        // (generated from stdlib/ by scripts/embed-stdlib; a test keeps the two in step).
        .target(name: "SluiceStdlib"),
        // Exact OpenAI tokenizers (cl100k_base, o200k_base) with their rank files as resources; a
        // leaf: Services makes them the runtime's token counter.
        .target(name: "SluiceTokenizers", resources: [.copy("Resources")]),
        .executableTarget(name: "sluice", dependencies: [
            "SluiceSyntax", "SluiceSemantics", "SluiceRuntime", "SluiceServices", "SluiceViewer", "SluiceStdlib", "SluiceTokenizers",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // What every golden-file harness shares (update rule, line diff, inline diagnostics).
        .target(name: "GoldenSupport", dependencies: ["SluiceSyntax"], path: "Tests/GoldenSupport"),
        .testTarget(name: "SluiceSyntaxTests", dependencies: ["SluiceSyntax", "GoldenSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "SluiceSemanticsTests", dependencies: ["SluiceSyntax", "SluiceSemantics", "SluiceStdlib", "GoldenSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "SluiceRuntimeTests", dependencies: ["SluiceSyntax", "SluiceSemantics", "SluiceRuntime", "SluiceStdlib", "GoldenSupport"], exclude: ["Scripts", "Fixtures"]),
        .testTarget(name: "SluiceServicesTests", dependencies: ["SluiceRuntime", "SluiceServices"]),
        // CSQLite only to break a store on purpose (a trigger that refuses writes); the CLI itself is run as a binary.
        .testTarget(name: "SluiceCLITests", dependencies: ["CSQLite"], exclude: ["Fixtures"]),
        .testTarget(name: "SluiceViewerTests", dependencies: ["SluiceRuntime", "SluiceServices", "SluiceViewer"]),
        .testTarget(name: "SluiceTokenizersTests", dependencies: ["SluiceTokenizers"], exclude: ["Fixtures"]),
    ]
)
