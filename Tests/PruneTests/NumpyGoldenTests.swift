import Foundation
import LinearAlgebra
import Testing
import Transformer
@testable import Prune

/// The pipeline against an independent numpy implementation of DESIGN.md §3 on a tiny llama
/// (Fixtures/prune-golden.json, made by scripts/make-prune-golden.py in float64): scores, the
/// head-distance matrix, redundant and kept units, and the repaired level-2 weights.
@Suite("Prune against the numpy golden")
struct NumpyGoldenTests {
  /// Tolerances, each with its reason. Pare runs the forward pass in Float32 (relative
  /// rounding ~1e-7 per operation, compounded over two layers and softmax) and accumulates
  /// statistics in Double; numpy runs everything in float64 from the same float32 weights.
  enum Tolerance {
    /// Scores are products of squared norms and second moments: about twice the relative
    /// error of the activations; compared normwise (relative to the module's largest score)
    /// so near-zero scores need no bound of their own. Measured ≤ 3.1e-7; 30× margin.
    static let score = 1e-5
    /// D is a mean of sqrt(JS); sqrt amplifies an absolute JS error e to e/(2·sqrt(JS)) with
    /// JS ≳ 1e-3 on this model, so Float32 probabilities give ≲1e-6. Measured ≤ 7e-9.
    static let distance = 1e-6
    /// Remedy weights solve a ridge system whose Gram matrix Pare accumulates in Float32 over
    /// 96 rows and factors in Double; λ = 0.1·mean(diag) bounds its condition number by ~10³,
    /// so ~1e-7 input error becomes ≲1e-4 normwise. Measured ≤ 3.4e-6 (bias, on the scale of
    /// its weights, ≤ 5e-7); 15× margin.
    static let weights = 5e-5
  }

  struct Golden: Decodable {
    struct Config: Decodable {
      var hidden, heads, kv_heads, head_dim, width, vocab, scoring_sequences, length: Int
      var rope_theta, rms_norm_eps: Double
    }
    struct LayerWeightsJSON: Decodable {
      var attention_norm, mlp_norm: [Double]
      var q, k, v, o, gate, up, down: [[Double]]
    }
    struct ModelJSON: Decodable {
      var embedding: [[Double]]
      var layers: [LayerWeightsJSON]
    }
    struct Plan: Decodable {
      var criterion: String
      var tau: Double?
      var remedy: Bool
      var target: String
      var sparsity: Double
    }
    struct Layer: Decodable {
      var head_scores, channel_scores, output_bias, down_bias: [Double]
      var head_distances: [[Double]]?
      var redundant_heads: [Int]?
      var kept_heads, kept_channels: [Int]
      var output_weight, down_weight: [[Double]]
    }
    struct Scenario: Decodable {
      var plan: Plan
      var layers: [Layer]
    }
    var config: Config
    var model: ModelJSON
    var tokens: [[Int]]
    var scenarios: [String: Scenario]
  }

  static let golden: Golden = {
    let url = Bundle.module.url(forResource: "Fixtures/prune-golden", withExtension: "json")
      ?? Bundle.module.resourceURL!.appendingPathComponent("Fixtures/prune-golden.json")
    return try! JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
  }()

  static func matrix(_ rows: [[Double]]) -> Matrix { Matrix(rows.map { $0.map(Float.init) }) }

  static func model() -> Model {
    let c = golden.config, m = golden.model
    let shape = LayerShape.dense(headCount: c.heads, keyValueHeadCount: c.kv_heads, intermediateSize: c.width)
    let config = ModelConfig(architecture: .llama, hiddenSize: c.hidden, headDimension: c.head_dim, vocabularySize: c.vocab,
                             maxPositions: 64, normEpsilon: Float(c.rms_norm_eps), ropeTheta: Float(c.rope_theta),
                             activation: .silu, tieWordEmbeddings: true, originalHeadCount: c.heads,
                             originalKeyValueHeadCount: c.kv_heads, originalIntermediateSize: c.width,
                             layers: Array(repeating: shape, count: m.layers.count))
    let layers = m.layers.map { l in
      LayerWeights(attentionNorm: Norm(weight: l.attention_norm.map(Float.init)), query: Linear(weight: matrix(l.q)),
                   key: Linear(weight: matrix(l.k)), value: Linear(weight: matrix(l.v)), output: Linear(weight: matrix(l.o)),
                   mlpNorm: Norm(weight: l.mlp_norm.map(Float.init)), gate: Linear(weight: matrix(l.gate)),
                   up: Linear(weight: matrix(l.up)), down: Linear(weight: matrix(l.down)))
    }
    return Model(config: config, weights: Weights(tokenEmbedding: matrix(m.embedding), positionEmbedding: nil,
                                                  layers: layers, finalNorm: Norm(weight: [Float](repeating: 1, count: c.hidden)),
                                                  outputHead: nil))
  }

  /// max |a − b| / max |b|.
  static func normwise(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    let scale = b.map(abs).max() ?? 0
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / max(scale, .leastNormalMagnitude) } ?? 0
  }

  @Test("scores, distances, kept units and repaired weights match numpy", arguments: golden.scenarios.keys.sorted())
  func scenario(name: String) throws {
    let golden = Self.golden, scenario = try #require(golden.scenarios[name])
    let plan = PruningPlan(sparsity: scenario.plan.sparsity, criterion: try #require(Criterion(rawValue: scenario.plan.criterion)),
                           headSimilarityTau: scenario.plan.tau, calibration: .none, samples: golden.config.scoring_sequences,
                           sequenceLength: golden.config.length, remedy: scenario.plan.remedy,
                           target: try #require(ReconstructionTarget(rawValue: scenario.plan.target)), damp: 0.1,
                           dampingPrior: .original)
    let result = try PruningPipeline(plan: plan).run(model: Self.model(), sequences: golden.tokens)
    for (index, want) in scenario.layers.enumerated() {
      let got = result.layers[index], weights = result.model.weights.layers[index]
      #expect(Self.normwise(try #require(got.headScores), want.head_scores) <= Tolerance.score, "layer \(index) head scores")
      #expect(Self.normwise(try #require(got.channelScores), want.channel_scores) <= Tolerance.score, "layer \(index) channel scores")
      #expect(got.keptHeads == want.kept_heads, "layer \(index)")
      #expect(result.model.config.layers[index].originalChannels == want.kept_channels, "layer \(index)")
      #expect(got.redundantHeads == want.redundant_heads, "layer \(index)")
      if let distances = want.head_distances {
        let d = try #require(got.headDistances)
        let worst = zip(d.flatMap { $0 }, distances.flatMap { $0 }).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= Tolerance.distance, "layer \(index) distances")
      }
      for (linear, w, b) in [(weights.output, want.output_weight, want.output_bias), (weights.down, want.down_weight, want.down_bias)] {
        // The bias is compared on the scale of its weights (it is zero without a repair).
        let scale = w.flatMap { $0 }.map(abs).max() ?? 1
        let bias = (linear.bias ?? [Float](repeating: 0, count: b.count)).map(Double.init)
        let biasError = zip(bias, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? .infinity
        #expect(Self.normwise(linear.weight.storage.map(Double.init), w.flatMap { $0 }) <= Tolerance.weights, "layer \(index) weights")
        #expect(biasError <= Tolerance.weights, "layer \(index) bias")
      }
    }
  }
}
