// Reading the forward-pass golden fixtures (Fixtures/forward/, made by
// scripts/make-forward-goldens.py). `FixtureModel` is a deliberately small, independent
// HF-folder reader (F32 safetensors + config.json) used as a second path beside
// `ModelLoader`: both must give the same logits.

import Foundation
import LinearAlgebra
import Testing
import Transformer

/// Named tolerances of the forward tests, each with its reason.
enum ForwardTolerance {
  /// Swift float32 against HF logits computed in float64 from the same float32 weights:
  /// max |Δ| / max |golden| over all logits. Float32 dot products of length ≤ 96 plus
  /// softmax/norm rounding stay far below this.
  static let logits: Double = 1e-4
  /// Two float32 computations of the same function by different routes (KV cache vs
  /// full sequence, pruned shape vs zeroed dense).
  static let sameFunction: Double = 1e-5
}

/// max |a − b| / max |b|.
func relativeMaxError(_ a: [Float], _ b: [Float]) -> Double {
  precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
  var num = 0.0, den = 0.0
  for i in 0..<a.count {
    num = max(num, abs(Double(a[i]) - Double(b[i])))
    den = max(den, abs(Double(b[i])))
  }
  return num / max(den, 1e-30)
}

enum ForwardFixture {
  static let folder: URL = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/forward")

  static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

  struct Golden {
    var inputIDs: [[Int]]
    var vocabularySize: Int
    /// Flattened logits, row b·T + t.
    var logits: [Float]
  }

  static func golden(_ name: String) throws -> Golden {
    let data = try Data(contentsOf: folder.appendingPathComponent("\(name)/golden.json"))
    let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let ids = try #require(json["input_ids"] as? [[Int]])
    let logits = try #require(json["logits"] as? [[[Double]]])
    return Golden(inputIDs: ids, vocabularySize: try #require(json["vocab_size"] as? Int),
                  logits: logits.flatMap { $0.flatMap { $0.map(Float.init) } })
  }
}

/// A minimal reader of the fixtures' HF folders (float32 safetensors only).
enum FixtureModel {
  struct Failure: Error, CustomStringConvertible { var description: String }

  static func tensors(_ url: URL) throws -> [String: Matrix] {
    let data = try Data(contentsOf: url)
    let bytes = [UInt8](data)
    var headerLength = 0
    for i in 0..<8 { headerLength |= Int(bytes[i]) << (8 * i) }
    let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as! [String: Any]
    var out: [String: Matrix] = [:]
    for (name, info) in header where name != "__metadata__" {
      let info = info as! [String: Any]
      guard info["dtype"] as? String == "F32" else { throw Failure(description: "\(name) is not F32") }
      let shape = info["shape"] as! [Int]
      let offsets = info["data_offsets"] as! [Int]
      let begin = 8 + headerLength + offsets[0], count = (offsets[1] - offsets[0]) / 4
      var values = [Float](repeating: 0, count: count)
      for i in 0..<count {
        let p = begin + 4 * i
        values[i] = Float(bitPattern: UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8
                                       | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24)
      }
      let rows = shape.count == 2 ? shape[0] : 1, cols = shape.count == 2 ? shape[1] : shape[0]
      out[name] = Matrix(rows: rows, columns: cols, storage: values)
    }
    return out
  }

  static func load(_ name: String) throws -> Model {
    let dir = ForwardFixture.folder.appendingPathComponent(name)
    let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
    var t = try tensors(dir.appendingPathComponent("model.safetensors"))
    func take(_ key: String) throws -> Matrix {
      guard let m = t.removeValue(forKey: key) else { throw Failure(description: "missing \(key)") }
      return m
    }
    func vector(_ key: String) throws -> [Float] { try take(key).storage }
    if config["model_type"] as? String == "gpt2" {
      let h = config["n_embd"] as! Int, heads = config["n_head"] as! Int, layers = config["n_layer"] as! Int
      let inner = config["n_inner"] as? Int ?? 4 * h
      let vocab = config["vocab_size"] as! Int
      var lw: [LayerWeights] = []
      for i in 0..<layers {
        let p = "transformer.h.\(i)."
        // Conv1D stores (in × out): transpose into the (out × in) Linear convention.
        let qkv = try take(p + "attn.c_attn.weight").transposed()
        let qkvBias = try vector(p + "attn.c_attn.bias")
        func part(_ k: Int) -> Linear {
          Linear(weight: qkv.selectingRows(Array((k * h)..<((k + 1) * h))), bias: Array(qkvBias[(k * h)..<((k + 1) * h)]))
        }
        lw.append(LayerWeights(
          attentionNorm: Norm(weight: try vector(p + "ln_1.weight"), bias: try vector(p + "ln_1.bias")),
          query: part(0), key: part(1), value: part(2),
          output: Linear(weight: try take(p + "attn.c_proj.weight").transposed(), bias: try vector(p + "attn.c_proj.bias")),
          mlpNorm: Norm(weight: try vector(p + "ln_2.weight"), bias: try vector(p + "ln_2.bias")),
          gate: nil,
          up: Linear(weight: try take(p + "mlp.c_fc.weight").transposed(), bias: try vector(p + "mlp.c_fc.bias")),
          down: Linear(weight: try take(p + "mlp.c_proj.weight").transposed(), bias: try vector(p + "mlp.c_proj.bias"))))
      }
      let cfg = ModelConfig(architecture: .gpt2, hiddenSize: h, headDimension: h / heads, vocabularySize: vocab,
                            maxPositions: config["n_positions"] as! Int,
                            normEpsilon: Float(config["layer_norm_epsilon"] as! Double), ropeTheta: 0,
                            activation: .geluTanh, tieWordEmbeddings: true, originalHeadCount: heads,
                            originalKeyValueHeadCount: heads, originalIntermediateSize: inner,
                            layers: Array(repeating: .dense(headCount: heads, keyValueHeadCount: heads, intermediateSize: inner), count: layers))
      let w = Weights(tokenEmbedding: try take("transformer.wte.weight"), positionEmbedding: try take("transformer.wpe.weight"),
                      layers: lw, finalNorm: Norm(weight: try vector("transformer.ln_f.weight"), bias: try vector("transformer.ln_f.bias")),
                      outputHead: nil)
      return Model(config: cfg, weights: w)
    }
    let h = config["hidden_size"] as! Int, heads = config["num_attention_heads"] as! Int
    let kv = config["num_key_value_heads"] as! Int, layers = config["num_hidden_layers"] as! Int
    let inner = config["intermediate_size"] as! Int, vocab = config["vocab_size"] as! Int
    let rope = (config["rope_parameters"] as? [String: Any])?["rope_theta"] as? Double ?? config["rope_theta"] as! Double
    let tied = config["tie_word_embeddings"] as? Bool ?? false
    var lw: [LayerWeights] = []
    for i in 0..<layers {
      let p = "model.layers.\(i)."
      lw.append(LayerWeights(
        attentionNorm: Norm(weight: try vector(p + "input_layernorm.weight")),
        query: Linear(weight: try take(p + "self_attn.q_proj.weight")),
        key: Linear(weight: try take(p + "self_attn.k_proj.weight")),
        value: Linear(weight: try take(p + "self_attn.v_proj.weight")),
        output: Linear(weight: try take(p + "self_attn.o_proj.weight")),
        mlpNorm: Norm(weight: try vector(p + "post_attention_layernorm.weight")),
        gate: Linear(weight: try take(p + "mlp.gate_proj.weight")),
        up: Linear(weight: try take(p + "mlp.up_proj.weight")),
        down: Linear(weight: try take(p + "mlp.down_proj.weight"))))
    }
    let cfg = ModelConfig(architecture: .llama, hiddenSize: h, headDimension: h / heads, vocabularySize: vocab,
                          maxPositions: config["max_position_embeddings"] as! Int,
                          normEpsilon: Float(config["rms_norm_eps"] as! Double), ropeTheta: Float(rope),
                          activation: .silu, tieWordEmbeddings: tied, originalHeadCount: heads,
                          originalKeyValueHeadCount: kv, originalIntermediateSize: inner,
                          layers: Array(repeating: .dense(headCount: heads, keyValueHeadCount: kv, intermediateSize: inner), count: layers))
    let w = Weights(tokenEmbedding: try take("model.embed_tokens.weight"), positionEmbedding: nil, layers: lw,
                    finalNorm: Norm(weight: try vector("model.norm.weight")),
                    outputHead: tied ? nil : try take("lm_head.weight"))
    return Model(config: cfg, weights: w)
  }
}

/// Element-wise sum of two equally shaped matrices.
func adding(_ a: Matrix, _ b: Matrix) -> Matrix {
  Matrix(rows: a.rows, columns: a.columns, storage: zip(a.storage, b.storage).map { $0 + $1 })
}
