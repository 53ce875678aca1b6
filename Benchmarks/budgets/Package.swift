// swift-tools-version:6.0
import PackageDescription

// The spend-ledger benchmark: reservations per second of the store's ledger (one process, and
// many processes sharing one file) against the in-memory ledger. Depends on the main package by
// path; run it with ./run.sh.
let package = Package(
    name: "BudgetsBench",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Sluice", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "BudgetsBench", dependencies: [
            .product(name: "SluiceSemantics", package: "Sluice"),
            .product(name: "SluiceRuntime", package: "Sluice"),
            .product(name: "SluiceServices", package: "Sluice"),
        ]),
    ]
)
