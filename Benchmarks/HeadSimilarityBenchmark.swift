// pare-bench heads (issue 6): the head-similarity ablation, in the manner of the paper's
// Table 2. For each τ, `pare prune --sparsity 0 --head-similarity τ` removes exactly the
// heads whose attention patterns nearly coincide (D < τ, Alg. 1); the same number of heads in
// every layer is then removed at random and by L2 norm instead (no MLP channels, no repair),
// and the three models are evaluated on the first N chunks of WikiText-2 and PTB test.

import Foundation
import LinearAlgebra
import Prune
import Transformer

enum HeadSimilarityBenchmark {
  typealias Failure = PruneBenchmark.Failure

  struct Row: Codable {
    var tau: Double
    var headsRemoved: Int
    var perLayer: [Int]
    /// criterion name → dataset → perplexity
    var perplexity: [String: [String: Double]]
  }

  static func run(_ args: [String]) throws {
    var taus = [0.1, 0.15, 0.2, 0.25]
    var maxChunks = 100
    var json = false
    var i = 0
    while i < args.count {
      switch args[i] {
      case "--json": json = true
      case "--taus" where i + 1 < args.count:
        let list = args[i + 1].split(separator: ",").compactMap { Double($0) }
        guard !list.isEmpty, list.allSatisfy({ $0 > 0 && $0 <= 1 }) else { throw Failure(description: "--taus takes numbers in (0, 1]") }
        taus = list
        i += 1
      case "--threads" where i + 1 < args.count:
        guard let n = Int(args[i + 1]), n > 0 else { throw Failure(description: "--threads takes a positive whole number") }
        Parallelism.maxThreads = n
        i += 1
      case "--max-chunks" where i + 1 < args.count:
        guard let n = Int(args[i + 1]), n > 0 else { throw Failure(description: "--max-chunks takes a positive whole number") }
        maxChunks = n
        i += 1
      default:
        throw Failure(description: "usage: pare-bench heads [--taus 0.1,0.15,0.2,0.25] [--max-chunks 100] [--threads N] [--json]")
      }
      i += 1
    }
    let datasets = CompareBenchmark.datasets
    for path in [PruneBenchmark.modelPath, PruneBenchmark.calibration] + datasets.map(\.path) where !FileManager.default.fileExists(atPath: path) {
      throw Failure(description: "needs \(path); run from the package root after scripts/fetch-smollm2.sh")
    }
    let log = { (s: String) in FileHandle.standardError.write(Data((s + "\n").utf8)) }
    let model = try ModelLoader.load(path: PruneBenchmark.modelPath).model
    let tokenizer = try Tokenizer.load(modelPath: PruneBenchmark.modelPath)
    let train = tokenizer.encode(try EvaluationText.load(path: PruneBenchmark.calibration, format: .wikitext))
    let sequences = try Calibration.windows(of: train, count: 16, length: 128, seed: 0)
    let tests = try datasets.map { d in
      (d.key, tokenizer.encode(try EvaluationText.load(path: d.path, format: EvaluationText.Format(rawValue: d.format)!)))
    }
    func evaluate(_ m: Model) throws -> [String: Double] {
      var out: [String: Double] = [:]
      for (key, tokens) in tests {
        out[key] = try Perplexity.evaluate(model: m, tokens: tokens, sequenceLength: 128, maxChunks: maxChunks).perplexity
      }
      return out
    }
    let calibration = CalibrationSource.file(path: PruneBenchmark.calibration, format: .wikitext)
    let dense = try evaluate(model)
    log("dense: \(dense)")
    var rows: [Row] = []
    for tau in taus {
      let plan = PruningPlan(sparsity: 0, criterion: .secondMoment, headSimilarityTau: tau, calibration: calibration)
      let similar = try PruningPipeline(plan: plan).run(model: model, sequences: sequences)
      let perLayer = similar.layers.map(\.removedHeads.count)
      let cuts = Dictionary(uniqueKeysWithValues: perLayer.enumerated().map { ($0.offset, LayerCut(heads: $0.element, channels: 0)) })
      var ppl = ["head-similarity": try evaluate(similar.model)]
      for criterion in [Criterion.random, .l2] {
        let control = try PruningPipeline(plan: PruningPlan(sparsity: 0, criterion: criterion, fixedCuts: cuts, calibration: calibration))
          .run(model: model, sequences: sequences)
        guard control.layers.map(\.removedHeads.count) == perLayer else {
          throw Failure(description: "\(criterion.rawValue) did not remove the same heads per layer")
        }
        ppl[criterion.rawValue] = try evaluate(control.model)
      }
      let row = Row(tau: tau, headsRemoved: perLayer.reduce(0, +), perLayer: perLayer, perplexity: ppl)
      log("τ \(tau): \(row.headsRemoved) heads \(perLayer) → \(ppl)")
      rows.append(row)
    }
    if json {
      struct Output: Codable { var maxChunks: Int; var dense: [String: Double]; var rows: [Row] }
      print(String(decoding: try JSONEncoder().encode(Output(maxChunks: maxChunks, dense: dense, rows: rows)), as: UTF8.self))
      return
    }
    print("head-similarity ablation: SmolLM2, 16 × 128 WikiText-2 train tokens (seed 0), perplexity on the first \(maxChunks) chunks of 128 tokens")
    print(String(format: "dense: WikiText-2 %.2f, PTB %.2f", dense["wikitext2"]!, dense["ptb"]!))
    print("| τ | heads removed (of 270) | similarity WikiText-2 | random WikiText-2 | L2 WikiText-2 | similarity PTB | random PTB | L2 PTB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows {
      let cells = ["wikitext2", "ptb"].flatMap { key in
        ["head-similarity", "random", "l2"].map { String(format: "%.2f", r.perplexity[$0]![key]!) }
      }
      print("| \(r.tau) | \(r.headsRemoved) | " + cells.joined(separator: " | ") + " |")
    }
  }
}
