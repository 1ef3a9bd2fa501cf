// pare-bench forward (issue 5): tokens/s of the full-sequence forward (layers, final norm,
// LM head and per-token NLL, as `pare eval` runs it) on a SmolLM2-135M-shaped model at
// sequence lengths 128 and 512 (a batch of chunks per forward), and PyTorch fp32 on the same
// token ids in the same run when the Python interpreter ($PARE_PYTHON, default python3) has
// torch. Both sides use 2 threads.
//
// Uses the real SmolLM2 weights when models/SmolLM2-135M-Instruct.Q4_1.gguf loads, else
// random weights of the same shape (speed does not depend on the values). Validates first:
// the batched forward reproduces each chunk's own single-sequence NLLs.

import Foundation
import LinearAlgebra
import Transformer

enum ForwardBenchmark {
  /// (sequence length, chunks per forward).
  static let settings: [(length: Int, batch: Int)] = [(128, 8), (512, 2)]
  static let threads = 2
  /// Batched vs single-sequence NLL, max relative difference: the same float32 function by
  /// two row layouts; GEMM blocking may reorder sums (~1e-6).
  static let tolerance = 1e-4

  struct Failure: Error, CustomStringConvertible { var description: String }

  struct Row: Codable {
    var sequenceLength: Int, batch: Int, tokens: Int
    var tokensPerSecond: Double
    var torchTokensPerSecond: Double?
    var ratio: Double?
  }

  static func run(_ args: [String]) throws {
    let json = args.contains("--json")
    let (model, source) = smolLM2Model()
    Parallelism.maxThreads = threads
    defer { Parallelism.maxThreads = 0 }
    var rng = SplitMix64(seed: 5)
    var rows: [Row] = []
    var inputs: [String: [[Int]]] = [:]
    for s in settings {
      let ids = (0..<s.batch).map { _ in (0..<s.length).map { _ in Int(rng.next() % UInt64(model.config.vocabularySize)) } }
      inputs["\(s.length)"] = ids
      try validate(model, ids)
      let seconds = bestTime { _ = try? nll(model, ids) }
      let tokens = s.length * s.batch
      rows.append(Row(sequenceLength: s.length, batch: s.batch, tokens: tokens,
                      tokensPerSecond: Double(tokens) / seconds))
    }
    if let torch = timeTorch(model.config, inputs) {
      for i in rows.indices {
        if let t = torch["\(rows[i].sequenceLength)"] {
          rows[i].torchTokensPerSecond = t
          rows[i].ratio = rows[i].tokensPerSecond / t
        }
      }
    }
    if json {
      struct Output: Codable { var model: String; var threads: Int; var rows: [Row] }
      let data = try JSONEncoder().encode(Output(model: source, threads: threads, rows: rows))
      print(String(decoding: data, as: UTF8.self))
    } else {
      print("forward (\(source)), \(threads) threads; tokens/s of layers + head + NLL")
      for r in rows {
        var line = "  seq \(r.sequenceLength) × \(r.batch): \(String(format: "%.0f", r.tokensPerSecond)) tok/s"
        if let t = r.torchTokensPerSecond, let q = r.ratio {
          line += "   torch fp32 \(String(format: "%.0f", t)) tok/s   ratio \(String(format: "%.2f", q))×"
        } else {
          line += "   (torch not available)"
        }
        print(line)
      }
    }
  }

  static func nll(_ model: Model, _ ids: [[Int]]) throws -> [Double] {
    let (hidden, _) = try model.hiddenStates(ids)
    let normed = model.applyFinalNorm(hidden)
    let l = ids[0].count
    var targets = [Int?](repeating: nil, count: ids.count * l)
    for (b, seq) in ids.enumerated() { for t in 0..<(l - 1) { targets[b * l + t] = seq[t + 1] } }
    return model.negativeLogLikelihoods(normed: normed, targets: targets)
  }

  static func validate(_ model: Model, _ ids: [[Int]]) throws {
    let batched = try nll(model, ids)
    let l = ids[0].count
    for b in [0, ids.count - 1] {
      let single = try nll(model, [ids[b]])
      for t in 0..<(l - 1) {
        let err = abs(single[t] - batched[b * l + t]) / max(1, abs(single[t]))
        guard err <= tolerance else {
          throw Failure(description: "batched forward differs from single-sequence forward at chunk \(b), position \(t): \(err)")
        }
      }
    }
  }

  static func bestTime(_ body: () -> Void) -> Double {
    body()
    let clock = ContinuousClock()
    var best = Double.infinity, total = 0.0, runs = 0
    while runs < 2 || (total < 6 && runs < 5) {
      let d = clock.measure(body)
      let s = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
      best = min(best, s); total += s; runs += 1
    }
    return best
  }

  /// SmolLM2-135M's shape: 30 layers, hidden 576, 9 query / 3 KV heads of 64, MLP 1536,
  /// vocabulary 49152, tied head.
  static func smolLM2Config() -> ModelConfig {
    ModelConfig(architecture: .llama, hiddenSize: 576, headDimension: 64, vocabularySize: 49152,
                maxPositions: 8192, normEpsilon: 1e-5, ropeTheta: 100000, activation: .silu,
                tieWordEmbeddings: true, originalHeadCount: 9, originalKeyValueHeadCount: 3,
                originalIntermediateSize: 1536,
                layers: Array(repeating: .dense(headCount: 9, keyValueHeadCount: 3, intermediateSize: 1536), count: 30))
  }

  static func smolLM2Model() -> (Model, String) {
    let path = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    if FileManager.default.fileExists(atPath: path), let loaded = try? ModelLoader.load(path: path) {
      return (loaded.model, "SmolLM2-135M-Instruct Q4_1 dequantised to F32")
    }
    let config = smolLM2Config()
    var rng = SplitMix64(seed: 1)
    let h = config.hiddenSize
    func linear(_ out: Int, _ inp: Int) -> Linear {
      Linear(weight: Matrix.random(rows: out, columns: inp, scale: 1 / Float(inp).squareRoot(), using: &rng))
    }
    let layers = (0..<config.layerCount).map { _ in
      LayerWeights(attentionNorm: Norm(weight: Array(repeating: 1, count: h)),
                   query: linear(576, h), key: linear(192, h), value: linear(192, h), output: linear(h, 576),
                   mlpNorm: Norm(weight: Array(repeating: 1, count: h)),
                   gate: linear(1536, h), up: linear(1536, h), down: linear(h, 1536))
    }
    let weights = Weights(tokenEmbedding: Matrix.random(rows: config.vocabularySize, columns: h, scale: 0.1, using: &rng),
                          positionEmbedding: nil, layers: layers,
                          finalNorm: Norm(weight: Array(repeating: 1, count: h)), outputHead: nil)
    return (Model(config: config, weights: weights), "SmolLM2-135M shape, random weights")
  }

  // MARK: - torch

  /// Times HF `LlamaForCausalLM` (same config, fp32, 2 threads) on the same ids: forward
  /// with logits for every position plus log-softmax NLL. Returns tokens/s per sequence length.
  static func timeTorch(_ config: ModelConfig, _ inputs: [String: [[Int]]]) -> [String: Double]? {
    let python = ProcessInfo.processInfo.environment["PARE_PYTHON"] ?? "python3"
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-bench-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let inputURL = dir.appendingPathComponent("ids.json"), outURL = dir.appendingPathComponent("out.json")
    guard let data = try? JSONSerialization.data(withJSONObject: inputs), (try? data.write(to: inputURL)) != nil else { return nil }
    let script = """
      import json, sys, time
      try:
          import torch
          from transformers import LlamaConfig, LlamaForCausalLM
      except Exception:
          sys.exit(3)
      torch.set_num_threads(\(threads))
      torch.manual_seed(0)
      cfg = LlamaConfig(vocab_size=\(config.vocabularySize), hidden_size=\(config.hiddenSize),
          intermediate_size=\(config.originalIntermediateSize), num_hidden_layers=\(config.layerCount),
          num_attention_heads=\(config.originalHeadCount), num_key_value_heads=\(config.originalKeyValueHeadCount),
          max_position_embeddings=\(config.maxPositions), rms_norm_eps=1e-5, rope_theta=100000.0,
          tie_word_embeddings=True)
      model = LlamaForCausalLM(cfg).eval().float()
      inputs = json.load(open(sys.argv[1]))
      out = {}
      with torch.inference_mode():
          for key, ids in inputs.items():
              x = torch.tensor(ids)
              def step():
                  logits = model(x, use_cache=False).logits
                  lp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
                  return -lp.gather(-1, x[:, 1:, None]).mean()
              step()
              best, total, runs = 1e9, 0.0, 0
              while runs < 2 or (total < 6 and runs < 5):
                  t0 = time.perf_counter(); step(); t = time.perf_counter() - t0
                  best = min(best, t); total += t; runs += 1
              out[key] = x.numel() / best
      json.dump(out, open(sys.argv[2], "w"))
      """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [python, "-c", script, inputURL.path, outURL.path]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return nil }
    p.waitUntilExit()
    guard p.terminationStatus == 0, let out = try? Data(contentsOf: outURL),
          let dict = try? JSONSerialization.jsonObject(with: out) as? [String: Double] else { return nil }
    return dict
  }
}
