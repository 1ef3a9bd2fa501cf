// pare-bench: measures speed and memory and prints figures (never timed tests).
// Every benchmark validates its fast path against a reference on the exact inputs it times.
// `pare-bench NAME [--json]`: with --json, one JSON object on stdout.

import Foundation
import LinearAlgebra

let benchmarks: [String: ([String]) throws -> Void] = [
  "compare": CompareBenchmark.run,
  "decode": DecodeBenchmark.run,
  "gemm": GemmBenchmark.run,
  "heads": HeadSimilarityBenchmark.run,
  "forward": ForwardBenchmark.run,
  "load": LoadBenchmark.run,
  "perplexity": PerplexityBenchmark.run,
  "prune": PruneBenchmark.run,
  "tokenizer": TokenizerBenchmark.run,
  "zeroshot": ZeroShotBenchmark.run,
]

Allocator.keepLargeBlocks()  // as `pare` does, so in-process timings match the tool
var argv = Array(CommandLine.arguments.dropFirst())
guard let name = argv.first, let bench = benchmarks[name] else {
  FileHandle.standardError.write(Data("usage: pare-bench \(benchmarks.keys.sorted().joined(separator: "|")) [--json]\n".utf8))
  exit(2)
}
argv.removeFirst()
do {
  try bench(argv)
} catch {
  FileHandle.standardError.write(Data("error: \(error)\n".utf8))
  exit(1)
}
