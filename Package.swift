// swift-tools-version:6.0
// MaskDM: masked diffusion models (Lei et al., arXiv 2306.11363) in Swift, on Apple's MLX C++ core.
//
// Layers (arrows point down only):
//   maskdm (CLI) -> Studies -> Training -> Evaluation, Datasets -> MaskDM -> NN -> Engine -> CMLX
//   TorchFormats (PyTorch/zip/pickle readers, data only) sits on Engine; Training and Evaluation use it.
// Each target lists exactly the modules its files import.
import PackageDescription
import Foundation

/// Where the MLX C++ core lives: `.deps/mlx` (put there by scripts/bootstrap.sh) unless MLX_PREFIX says.
let mlxPrefix = Context.environment["MLX_PREFIX"] ?? "\(Context.packageDirectory)/.deps/mlx"

/// OpenBLAS goes on the link line *before* libmlx, so that MLX's `cblas_sgemm` binds to OpenBLAS
/// (about 180 GFLOP/s on 2 cores) rather than the wheel's reference BLAS (about 5).
/// `MASKDM_NO_OPENBLAS=1` leaves it out (the GPU build, where the GPU does the math).
let blasFlags: [String] = Context.environment["MASKDM_NO_OPENBLAS"] == "1"
  ? [] : ["-Xlinker", "--no-as-needed", "-lopenblas"]
let mlxLink: [String] = blasFlags + [
  "-L\(mlxPrefix)/lib", "-lmlx", "-Xlinker", "-rpath", "-Xlinker", "\(mlxPrefix)/lib",
]

/// Release builds use SwiftPM's `-O`: integer overflow and out-of-range conversions trap instead of
/// wrapping (`-Ounchecked` once turned a calibration rate of 1e300 into "1 steps"). The hot loops are
/// the C++ kernels of CMLX (`-O3`), which this does not touch.
let swiftSettings: [SwiftSetting] = []

let package = Package(
  name: "MaskDM",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "maskdm", targets: ["maskdm"]),
    .library(name: "MaskDM", targets: ["MaskDM"]),
    .library(name: "Engine", targets: ["Engine"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
  ],
  targets: [
    .target(
      name: "CMLX",
      cxxSettings: [.unsafeFlags(["-I\(mlxPrefix)/include", "-O3", "-fno-math-errno", "-Wno-deprecated-declarations"])],
      linkerSettings: [.unsafeFlags(mlxLink)]),
    .target(name: "Engine", dependencies: ["CMLX"], swiftSettings: swiftSettings),
    .target(name: "NN", dependencies: ["Engine"], swiftSettings: swiftSettings),
    .target(name: "MaskDM", dependencies: ["NN", "Engine"], swiftSettings: swiftSettings),
    .target(
      name: "CImageCodecs",
      linkerSettings: [.linkedLibrary("png"), .linkedLibrary("jpeg"), .linkedLibrary("webp"), .linkedLibrary("z")]),
    // Debian's liblmdb, for LSUN's LMDB exports.
    .systemLibrary(name: "CLMDB"),
    .target(name: "Datasets", dependencies: ["CImageCodecs", "CLMDB"], swiftSettings: swiftSettings),
    .target(name: "CLinalg", linkerSettings: [.linkedLibrary("openblas")]),
    // SHA-256 of checkpoint files, optimised in debug builds too (tests write many checkpoints).
    .target(name: "CChecksum", cSettings: [.unsafeFlags(["-O2"])]),
    .target(name: "TorchFormats", dependencies: ["Engine"], swiftSettings: swiftSettings),
    .target(name: "Evaluation", dependencies: ["Engine", "Datasets", "CLinalg", "TorchFormats"], swiftSettings: swiftSettings),
    .target(
      name: "Training",
      // The YAML reader also imports CYaml, the libyaml that comes with the Yams product, for its event stream.
      dependencies: ["Engine", "NN", "MaskDM", "Datasets", "TorchFormats", "CChecksum", .product(name: "Yams", package: "Yams")],
      swiftSettings: swiftSettings),
    .target(
      name: "Studies",
      dependencies: ["Engine", "MaskDM", "Datasets", "Evaluation", "Training", .product(name: "Yams", package: "Yams")],
      swiftSettings: swiftSettings),
    .executableTarget(
      name: "maskdm",
      dependencies: [
        "Engine", "MaskDM", "Datasets", "Evaluation", "TorchFormats", "Training", "Studies",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: swiftSettings),
    // The entry points of every reader of untrusted input, and their libFuzzer driver
    // (scripts/fuzz_parsers.sh); a plain build of the driver replays saved inputs.
    .target(name: "ParserFuzzing", dependencies: ["Engine", "Datasets", "Evaluation", "TorchFormats", "Training", "Studies"],
            swiftSettings: swiftSettings),
    .executableTarget(name: "fuzz-parsers", dependencies: ["ParserFuzzing"], swiftSettings: swiftSettings),
    .testTarget(name: "EngineTests", dependencies: ["Engine"]),
    .testTarget(name: "NNTests", dependencies: ["NN"]),
    .testTarget(name: "MaskDMTests", dependencies: ["MaskDM"]),
    // Test-only writers (WebP, LMDB) with which the dataset tests make their own fixtures.
    .target(name: "CDatasetFixtures", path: "Tests/Support/CDatasetFixtures",
            linkerSettings: [.linkedLibrary("webp"), .linkedLibrary("lmdb")]),
    .target(name: "DatasetFixtures", dependencies: ["CDatasetFixtures", "Datasets"], path: "Tests/Support/DatasetFixtures"),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "DatasetFixtures"]),
    .testTarget(name: "EvaluationTests", dependencies: ["Engine", "Datasets", "Evaluation", "TorchFormats"]),
    .testTarget(name: "TrainingTests",
                dependencies: ["Engine", "MaskDM", "Datasets", "Training", "DatasetFixtures", .product(name: "Yams", package: "Yams")]),
    .testTarget(name: "StudiesTests", dependencies: ["Studies"]),
    .testTarget(name: "CLITests", dependencies: ["maskdm"]),
    .testTarget(name: "ParserFuzzingTests", dependencies: ["ParserFuzzing"]),
  ],
  swiftLanguageModes: [.v5],
  cxxLanguageStandard: .cxx20
)
