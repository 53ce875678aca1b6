// swift-tools-version:6.0
import PackageDescription

// The retrieval benchmark: Sluice's `retrieve ... top 5` (SQLiteStore.search) against the bare
// FTS5 top-k query on the same index, at index sizes from 1k to 500k chunks.
// Depends on the main package by path; run it with ./run.sh.
let package = Package(
    name: "RetrievalBench",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Sluice", path: "../.."),
    ],
    targets: [
        // The baseline talks to SQLite directly (the main package's CSQLite is not a product).
        .systemLibrary(name: "CSQLiteBench", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .executableTarget(name: "RetrievalBench", dependencies: [
            "CSQLiteBench",
            .product(name: "SluiceRuntime", package: "Sluice"),
            .product(name: "SluiceServices", package: "Sluice"),
        ]),
    ]
)
