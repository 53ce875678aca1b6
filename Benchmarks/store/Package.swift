// swift-tools-version:6.0
import PackageDescription

// The trace-store benchmark: what tracing into the SQLite store costs a run, batched by the
// TraceWriter or written a transaction per record, against a sink that drops everything.
// Depends on the main package by path; run it with ./run.sh.
let package = Package(
    name: "StoreBench",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Sluice", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "StoreBench", dependencies: [
            .product(name: "SluiceSyntax", package: "Sluice"),
            .product(name: "SluiceSemantics", package: "Sluice"),
            .product(name: "SluiceRuntime", package: "Sluice"),
            .product(name: "SluiceServices", package: "Sluice"),
            .product(name: "SluiceStdlib", package: "Sluice"),
        ]),
    ]
)
