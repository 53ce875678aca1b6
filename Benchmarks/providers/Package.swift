// swift-tools-version:6.0
import PackageDescription

// The provider-layer benchmark: Sluice's interpreter, OpenAI-compatible provider and SQLite trace
// store against a local mock server. Depends on the main package by path; run it with ./run.sh.
let package = Package(
    name: "ProvidersBench",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Sluice", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "ProvidersBench", dependencies: [
            .product(name: "SluiceSyntax", package: "Sluice"),
            .product(name: "SluiceSemantics", package: "Sluice"),
            .product(name: "SluiceRuntime", package: "Sluice"),
            .product(name: "SluiceServices", package: "Sluice"),
            .product(name: "SluiceStdlib", package: "Sluice"),
        ]),
    ]
)
