// pare-bench gemm (issue 2).
import LinearAlgebra

enum GemmBenchmark {
  static func run(_ args: [String]) throws {
    print("gemm benchmark: not implemented yet")
  }
}
