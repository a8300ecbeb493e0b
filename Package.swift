// swift-tools-version: 6.0
import Foundation
import PackageDescription

/// The engine's hot modules. Always compiled with optimisation, debug builds included: at
/// -Onone Swift boxes captured variables on the heap, so a training step would allocate (and
/// run many times slower), which the zero-allocation test forbids. No dynamic exclusivity
/// checks (a check per element costs ~20x, ../shared/STACK.md). Release builds keep every
/// precondition and bounds check (plain -O, not the unchecked mode: guards on input must not
/// vanish; the hot loops are C kernels: the seed model trained at 725 images/s unchecked and 726
/// checked, medians of 5 alternating runs, README "Builds") and, on
/// x86-64, let LLVM vectorise the Swift loops for AVX2/FMA (x86-64-v3, `haswell`): the floor
/// runner's x86 builds assume. The hand-written kernels
/// (CKernels) pick AVX2, AVX-512 or portable variants at run time (Kernels/CPU.swift); other
/// architectures (aarch64 Linux, Apple Silicon) build for their baseline.
#if arch(x86_64)
    let releaseCPU = ["-target-cpu", "haswell"]
#else
    let releaseCPU: [String] = []
#endif
let engineFlags: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-O"]),
    .unsafeFlags(releaseCPU, .when(configuration: .release)),
]

/// Open MPI (Debian's libopenmpi-dev, which scripts/setup.sh installs): when its pkg-config file
/// is present, runner links it and `mpirun -np R runner CONFIG` trains one run data-parallel;
/// without it runner builds all the same and says how to get MPI. RUNNER_MPI=0 leaves it out.
let mpiPkgConfigFolders = [
    "/usr/lib/x86_64-linux-gnu/pkgconfig", "/usr/lib/aarch64-linux-gnu/pkgconfig", "/usr/lib/pkgconfig", "/usr/lib64/pkgconfig",
    "/usr/local/lib/pkgconfig", "/opt/homebrew/lib/pkgconfig",
]
let mpiFound =
    ProcessInfo.processInfo.environment["RUNNER_MPI"] != "0"
    && mpiPkgConfigFolders.contains { FileManager.default.fileExists(atPath: $0 + "/ompi-c.pc") }

let package = Package(
    name: "runner",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "runner", targets: ["RunnerCLI"]),
        .library(name: "RunnerEngine", targets: ["Files", "Tensor", "Kernels", "Layers", "Spec", "Graph", "Plan", "Datasets", "Train"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
        // Dataset downloads with libcurl (streamed to disk, capped, interruptible).
        .target(name: "CDownload", dependencies: ["CCurl"]),
        // Process control Swift cannot reach (prctl is variadic): --jobs children die with their parent.
        .target(name: "CSystem"),
        // PNG and JPEG decoding in C (libjpeg reports errors by longjmp).
        .target(name: "CImage", dependencies: ["CPNG", "CJPEG"]),
        // Reading and writing files safely: size caps from fstat, durable unique temporaries.
        .target(name: "Files"),
        .target(name: "Tensor", swiftSettings: engineFlags),
        // runner's own GEMMs (fp32: AVX-512, AVX2+FMA and portable variants; bf16: AVX512-BF16)
        // and bf16 im2col, chosen at run time by CPU level; always optimised.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Kernels", dependencies: ["Tensor", "CKernels"], swiftSettings: engineFlags),
        .target(name: "Layers", dependencies: ["Tensor", "Kernels"], swiftSettings: engineFlags),
        .target(name: "Spec", dependencies: ["Files", "Tensor", "Kernels", "Layers", "Datasets", "Yams"]),
        .target(name: "Graph", dependencies: ["Tensor", "Layers", "Spec"]),
        .target(name: "Plan", dependencies: ["Tensor", "Kernels", "Layers", "Graph"], swiftSettings: engineFlags),
        .target(
            name: "Datasets", dependencies: ["Files", "Tensor", "CZlib", "CImage", "CDownload"], resources: [.copy("Resources")], swiftSettings: engineFlags),
        .target(name: "Train", dependencies: ["Files", "Tensor", "Kernels", "Layers", "Spec", "Graph", "Plan", "Datasets"], swiftSettings: engineFlags),
        // Event files for TensorBoard; knows nothing of training. The .proto is not compiled by a
        // build plugin: the generated Swift is committed (scripts/generate-protos.sh).
        .target(
            name: "TensorBoard", dependencies: ["CZlib", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Proto"], swiftSettings: engineFlags),
        // ONNX export of a trained graph; like TensorBoard, its generated .pb.swift is committed.
        .target(
            name: "ONNX", dependencies: ["Tensor", "Kernels", "Layers", "Spec", "Graph", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Proto"]),
        .executableTarget(
            name: "RunnerCLI",
            dependencies: [
                "TensorBoard", "ONNX", "CSystem", "Ranks", "Files",
                "Tensor", "Kernels", "Layers", "Spec", "Graph", "Plan", "Datasets", "Train",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Data-parallel training over MPI (Collective, from Train); CMPIBridge only where MPI is.
        .target(name: "Ranks", dependencies: ["Train"] + (mpiFound ? ["CMPIBridge"] : [])),
        // Test-only: counts malloc calls on the calling thread (interposes malloc & co.).
        .target(name: "AllocationCounter"),
        .testTarget(name: "KernelsTests", dependencies: ["Tensor", "Kernels", "CKernels"]),
        .testTarget(name: "LayersTests", dependencies: ["Tensor", "Kernels", "Layers"]),
        .testTarget(name: "SpecTests", dependencies: ["Spec", "Datasets", "Train", "SpecCorpus", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "PlanTests", dependencies: ["Tensor", "Kernels", "Layers", "Spec", "Graph", "Plan", "AllocationCounter"]),
        .target(name: "SpecCorpus", dependencies: ["Layers"], path: "Tests/SpecCorpus"),
        .testTarget(
            name: "CLITests",
            dependencies: ["RunnerCLI", "SpecCorpus", "Kernels", "Layers", "Train", "TensorBoard", "ONNX", "Graph", "Spec", "Tensor", "Datasets"]),
        .testTarget(name: "TensorBoardTests", dependencies: ["TensorBoard"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Tensor"]),
        .testTarget(
            name: "TrainTests",
            dependencies: [
                "Tensor", "Kernels", "Layers", "Spec", "Graph", "Plan", "Datasets", "Train", "AllocationCounter", .product(name: "Yams", package: "Yams"),
            ]),
    ]
)

if mpiFound {
    package.targets += [
        .systemLibrary(name: "COpenMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]),
        // The MPI calls runner makes, as C functions: Open MPI's handles are macros Swift cannot import.
        .target(name: "CMPIBridge", dependencies: ["COpenMPI"]),
    ]
}

// libFuzzer targets, only when RUNNER_FUZZ is set: each is a dynamic library exporting
// LLVMFuzzerTestOneInput, which scripts/fuzz.sh builds with ASan and coverage instrumentation
// and links with libFuzzer's main.
if ProcessInfo.processInfo.environment["RUNNER_FUZZ"] != nil {
    let fuzzTargets: [(String, [Target.Dependency])] = [
        ("FuzzSpec", ["Spec", "Train"]),
        ("FuzzCheckpoint", ["Train"]),
        ("FuzzCIFAR", ["Datasets"]),
        ("FuzzEvents", ["TensorBoard"]),
        ("FuzzImages", ["Datasets"]),
        ("FuzzCheckpointLoad", ["Train", "Spec", "Plan"]),
        ("FuzzPredict", ["Train", "Spec", "Plan", "Datasets"]),
    ]
    for (name, dependencies) in fuzzTargets {
        package.targets.append(.target(name: name, dependencies: dependencies, path: "Fuzz/\(name)"))
        package.products.append(.library(name: name, type: .dynamic, targets: [name]))
    }
}
