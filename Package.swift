// swift-tools-version: 6.0
import PackageDescription

/// Kernels are the hot loops: in release builds they are compiled without exclusivity checks
/// (see ../shared/STACK.md: a dynamic check per element costs ~20x) and for AVX2/FMA CPUs.
let kernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"]),
    .unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"], .when(configuration: .release)),
]

let package = Package(
    name: "runner",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "runner", targets: ["RunnerCLI"]),
        .library(name: "RunnerEngine", targets: ["Tensor", "Kernels", "Layers", "Spec", "Graph", "Plan", "Data", "Train"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Tensor"),
        .target(name: "Kernels", dependencies: ["Tensor", "COpenBLAS"], swiftSettings: kernelFlags),
        .target(name: "Layers", dependencies: ["Tensor", "Kernels"], swiftSettings: kernelFlags),
        .target(name: "Spec", dependencies: ["Tensor", "Layers", "Yams"]),
        .target(name: "Graph", dependencies: ["Tensor", "Layers", "Spec"]),
        .target(name: "Plan", dependencies: ["Tensor", "Kernels", "Layers", "Graph"], swiftSettings: kernelFlags),
        .target(name: "Data", dependencies: ["Tensor", "CZlib"], resources: [.copy("Resources")], swiftSettings: kernelFlags),
        .target(name: "Train", dependencies: ["Tensor", "Kernels", "Spec", "Graph", "Plan", "Data", "Yams"], swiftSettings: kernelFlags),
        .executableTarget(name: "RunnerCLI", dependencies: [
            "Tensor", "Kernels", "Spec", "Graph", "Plan", "Data", "Train",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Test-only: counts malloc calls on the calling thread (interposes malloc & co.).
        .target(name: "AllocationCounter"),
        .testTarget(name: "KernelsTests", dependencies: ["Tensor", "Kernels"]),
        .testTarget(name: "LayersTests", dependencies: ["Tensor", "Kernels", "Layers"]),
        .testTarget(name: "SpecTests", dependencies: ["Spec", "Graph", "Layers", "Train"]),
        .testTarget(name: "PlanTests", dependencies: ["Tensor", "Layers", "Spec", "Graph", "Plan"]),
        .testTarget(name: "TrainTests", dependencies: ["Tensor", "Kernels", "Spec", "Graph", "Plan", "Data", "Train", "AllocationCounter"]),
    ]
)
