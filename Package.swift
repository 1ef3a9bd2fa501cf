// swift-tools-version: 6.0
import PackageDescription
import Foundation

// Pare has no package dependencies, ever: the toolchain's Foundation and Dispatch only.
//
// Target CPU. Release numerics depend on the vector width the compiler may use: with no
// target CPU, `SIMD.addProduct` lowers to one libm `fmaf` call per lane (~1 GFLOP/s).
// PARE_TARGET_CPU picks it deliberately:
//   unset / "native"  the build machine's own CPU (AVX-512 on our machines) — the default;
//   "haswell"         portable to any AVX2 + FMA x86-64 CPU (Intel 2013+, AMD Zen);
//   "generic"         no flag at all: the portable path, no FMA assumed (kernels then use
//                     separate multiply and add instead of fused multiply-add).
// The kernels learn whether FMA is available from the PARE_FMA compilation condition.
let targetCPU = ProcessInfo.processInfo.environment["PARE_TARGET_CPU"] ?? "native"
let fmaCPUs: Set<String> = ["native", "haswell", "broadwell", "skylake", "skylake-avx512",
                            "znver2", "znver3", "znver4", "znver5", "icelake-server", "sapphirerapids"]
var numericSettings: [SwiftSetting] = []
if targetCPU != "generic" {
  numericSettings.append(.unsafeFlags(["-target-cpu", targetCPU]))
}
if fmaCPUs.contains(targetCPU) {
  numericSettings.append(.define("PARE_FMA"))
}

let package = Package(
  name: "Pare",
  products: [
    .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
    .library(name: "Transformer", targets: ["Transformer"]),
    .library(name: "Prune", targets: ["Prune"]),
    .executable(name: "pare", targets: ["pare"]),
    .executable(name: "pare-bench", targets: ["Benchmarks"]),
  ],
  // Every target lists each module it imports (not only through another's dependencies).
  targets: [
    // MARK: - Libraries (LinearAlgebra <- Transformer <- Prune)
    .target(name: "LinearAlgebra", swiftSettings: numericSettings),
    .target(name: "Transformer", dependencies: ["LinearAlgebra"], swiftSettings: numericSettings),
    .target(name: "Prune", dependencies: ["Transformer", "LinearAlgebra"], swiftSettings: numericSettings),
    // MARK: - Executables
    .executableTarget(name: "pare", dependencies: ["Prune", "Transformer", "LinearAlgebra"], swiftSettings: numericSettings),
    .executableTarget(name: "Benchmarks", dependencies: ["Prune", "Transformer", "LinearAlgebra"], path: "Benchmarks",
                      swiftSettings: numericSettings),
    // MARK: - Tests
    // Helpers shared by test targets (which cannot import each other): token-id goldens.
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra"]),
    .testTarget(name: "TransformerTests", dependencies: ["Transformer", "LinearAlgebra", "TestSupport"],
                resources: [.copy("Fixtures")]),
    .testTarget(name: "PruneTests", dependencies: ["Prune", "Transformer", "LinearAlgebra"],
                resources: [.copy("Fixtures")]),
    // Runs the built `pare` binary as a user would: exit codes, error lines, outputs.
    .testTarget(name: "EndToEndTests", dependencies: ["pare", "TestSupport"]),
    // Needs the real SmolLM2 model (scripts/fetch-smollm2.sh) and runs in release builds only.
    .testTarget(name: "RealModelTests", dependencies: ["Prune", "Transformer", "LinearAlgebra", "TestSupport"]),
  ]
)
