// Loading a model from a GGUF file, a Hugging Face folder, or a folder Pare wrote, into the
// one in-memory convention of Model/Weights.swift: every projection (out × in), row-major.
//
// Conversions done here, once:
//   GPT-2 Conv1D weights (in × out) are transposed; the fused c_attn is split into Q, K, V.
//   GGUF llama Q and K rows are un-permuted: llama.cpp's converter reorders the rows of each
//   head from HF's [first half | second half] RoPE pairing to interleaved pairs.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinearAlgebra

/// A model as loaded, with what the tokenizer and `pare inspect` need.
public struct LoadedModel: Sendable {
  /// Where the weights came from.
  public enum Format: String, Sendable {
    case gguf
    case huggingFace = "hf"
    /// A folder Pare wrote (HF layout plus a `"pare"` block in config.json).
    case pare
  }

  public var model: Model
  public var format: Format
  /// The path given to the loader.
  public var path: String
  /// The GGUF file's metadata (`tokenizer.ggml.*` for the tokenizer); empty for folders.
  public var ggufMetadata: [String: GGUFValue]
  /// The model folder (tokenizer.json, vocab.json + merges.txt live here); nil for GGUF.
  public var folder: URL?
  /// Bytes of the weight files (the GGUF file, or all safetensors files).
  public var fileByteCount: Int
  /// The stored element types, sorted (e.g. ["F32", "Q4_1", "Q8_0"]).
  public var storedDTypes: [String]
  /// Tensors in the file(s).
  public var tensorCount: Int
  /// Parameters of the loaded weights (tied head counted once).
  public var parameterCount: Int { model.weights.parameterCount }
}

/// Reads any model Pare supports.
public enum ModelLoader {
  /// Loads a GGUF file, or a folder with `config.json` and safetensors.
  ///
  /// Every weight is checked to be finite as it is read (GGUF: inside the parallel
  /// dequantisation; safetensors: a vectorised scan, `firstNonFiniteIndex`): a NaN or ±Inf
  /// anywhere throws `ModelFileError.nonFiniteWeight` naming the tensor, unless
  /// `allowNonFinite` (the CLI's `--allow-non-finite`) says to go on.
  /// - Throws: `GGUFError`, `SafetensorsError` or `ModelFileError` saying what is wrong.
  public static func load(path: String, allowNonFinite: Bool = false) throws -> LoadedModel {
    var isDirectory = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw ModelFileError.notAModel(path: path, detail: "no such file or folder")
    }
    let url = URL(fileURLWithPath: path)
    if isDirectory { return try loadFolder(url, path: path, allowNonFinite: allowNonFinite) }
    return try loadGGUF(url, path: path, allowNonFinite: allowNonFinite)
  }

  // MARK: - GGUF

  static func loadGGUF(_ url: URL, path: String, allowNonFinite: Bool) throws -> LoadedModel {
    let file = try GGUFFile(contentsOf: url)
    let model = try model(fromGGUF: file, allowNonFinite: allowNonFinite)
    let types = Set(file.tensors.map(\.type.name)).sorted()
    return LoadedModel(model: model, format: .gguf, path: path,
                       ggufMetadata: file.metadata, folder: nil, fileByteCount: file.fileSize,
                       storedDTypes: types, tensorCount: file.tensors.count)
  }

  /// The model of a parsed GGUF file (config from metadata, weights dequantised).
  static func model(fromGGUF file: GGUFFile, allowNonFinite: Bool) throws -> Model {
    let config = try ModelConfig(gguf: file)
    let source = TensorSource(
      shape: { file.tensor(named: $0)?.shape },
      floats: { try file.floats(named: $0) },
      allowNonFinite: allowNonFinite,
      floatsFindingNonFinite: { name in
        guard let t = file.tensor(named: name) else { throw GGUFError(.missingTensor(name), at: 0) }
        return try file.floatsFindingNonFinite(t)
      })
    let weights: Weights
    switch config.architecture {
    case .llama:
      weights = try buildLlama(config, source, names: .gguf, unpermuteRoPE: true)
    case .gpt2:
      weights = try buildGPT2FromGGUF(config, source)
    }
    return Model(config: config, weights: weights)
  }

  // MARK: - Folders

  static func loadFolder(_ url: URL, path: String, allowNonFinite: Bool) throws -> LoadedModel {
    let configURL = url.appendingPathComponent("config.json")
    guard FileManager.default.fileExists(atPath: configURL.path) else {
      throw ModelFileError.notAModel(path: path, detail: "the folder has no config.json")
    }
    let bytes = try Data(readingFile: configURL)
    guard bytes.count <= 10_000_000 else {
      throw ModelFileError.badConfigValue(source: "config.json", key: "(file)", detail: "is larger than 10 MB")
    }
    let json: JSONValue
    do { json = try JSONValue.parse(bytes) } catch {
      throw ModelFileError.badConfigValue(source: "config.json", key: "(file)", detail: "is not valid JSON: \(error)")
    }
    let config = try ModelConfig(huggingFaceJSON: json)
    let tensors = try SafetensorsCollection(folder: url)
    let source = TensorSource(
      shape: { tensors.tensor(named: $0)?.shape },
      floats: { try tensors.floats(named: $0) },
      allowNonFinite: allowNonFinite)
    let weights = try huggingFaceWeights(config, source)
    let types = Set(tensors.names.compactMap { tensors.tensor(named: $0)?.dtype.rawValue }).sorted()
    return LoadedModel(model: Model(config: config, weights: weights),
                       format: json["pare"] != nil ? .pare : .huggingFace, path: path, ggufMetadata: [:],
                       folder: url, fileByteCount: tensors.byteCount, storedDTypes: types,
                       tensorCount: tensors.names.count)
  }

  // MARK: - Building weights

  /// The weights of an HF-layout checkpoint (GPT-2 names with or without "transformer.").
  static func huggingFaceWeights(_ config: ModelConfig, _ source: TensorSource) throws -> Weights {
    switch config.architecture {
    case .llama: return try buildLlama(config, source, names: .huggingFace, unpermuteRoPE: false)
    case .gpt2:
      let prefix = source.shape(GPT2TensorNames.tokenEmbedding("transformer.")) != nil ? "transformer." : ""
      return try buildGPT2FromHF(config, source, prefix: prefix)
    }
  }

  /// Name lookup and Float reading, whatever the file format.
  struct TensorSource {
    var shape: (String) -> [Int]?
    var floats: (String) throws -> [Float]
    /// Skip the check that every value is finite.
    var allowNonFinite = false
    /// Reads the values and finds the first non-finite one in the same pass (GGUF: during
    /// dequantisation); when nil, the values are scanned after `floats`.
    var floatsFindingNonFinite: ((String) throws -> (values: [Float], firstNonFinite: Int?))?

    /// The values of `name`, checked to be finite unless `allowNonFinite`.
    func checkedFloats(_ name: String) throws -> [Float] {
      if allowNonFinite { return try floats(name) }
      let (values, bad) = try floatsFindingNonFinite?(name) ?? { let v = try floats(name); return (v, v.firstNonFiniteIndex()) }()
      if let i = bad {
        throw ModelFileError.nonFiniteWeight(tensor: name, index: i, value: "\(values[i])")
      }
      return values
    }

    /// The tensor `name`, checked to have `expected` shape (a 1-D tensor for vectors).
    func matrix(_ name: String, _ expected: [Int]) throws -> Matrix {
      guard let actual = shape(name) else { throw ModelFileError.missingTensor(name) }
      guard actual == expected else { throw ModelFileError.shapeMismatch(tensor: name, expected: expected, actual: actual) }
      let values = try checkedFloats(name)
      return Matrix(rows: expected[0], columns: expected.count > 1 ? expected[1] : 1, storage: values)
    }

    func vector(_ name: String, _ count: Int) throws -> [Float] {
      guard let actual = shape(name) else { throw ModelFileError.missingTensor(name) }
      guard actual == [count] else { throw ModelFileError.shapeMismatch(tensor: name, expected: [count], actual: actual) }
      return try checkedFloats(name)
    }

    func optionalVector(_ name: String, _ count: Int) throws -> [Float]? {
      shape(name) == nil ? nil : try vector(name, count)
    }

    /// `base.weight` (out × in) and, if present, `base.bias` (out).
    func linear(_ base: String, out: Int, in inputs: Int) throws -> Linear {
      Linear(weight: try matrix(base + ".weight", [out, inputs]), bias: try optionalVector(base + ".bias", out))
    }

    /// As `linear`, but an absent weight with no outputs or inputs (a layer without heads or
    /// MLP channels, as GGUF `deci` files store it) is an empty matrix.
    func linearOrEmpty(_ base: String, out: Int, in inputs: Int) throws -> Linear {
      if out * inputs == 0 && shape(base + ".weight") == nil {
        return Linear(weight: Matrix(rows: out, columns: inputs), bias: try optionalVector(base + ".bias", out))
      }
      return try linear(base, out: out, in: inputs)
    }

    /// A norm weight that may be absent when the block it normalises for is (`unused`).
    func normWeight(_ name: String, _ count: Int, unused: Bool) throws -> [Float] {
      if unused && shape(name) == nil { return [Float](repeating: 1, count: count) }
      return try vector(name, count)
    }
  }

  enum LlamaNames { case gguf, huggingFace }

  static func buildLlama(_ c: ModelConfig, _ s: TensorSource, names: LlamaNames, unpermuteRoPE: Bool) throws -> Weights {
    let h = c.hiddenSize, d = c.headDimension, v = c.vocabularySize
    let gguf = names == .gguf
    var layers: [LayerWeights] = []
    layers.reserveCapacity(c.layerCount)
    for (l, shape) in c.layers.enumerated() {
      let q = shape.queryHeadCount, kv = shape.keyValueHeadCount, inner = shape.intermediateSize
      var query = try s.linearOrEmpty(gguf ? GGUFTensorNames.query(l) : LlamaTensorNames.query(l), out: q * d, in: h)
      var key = try s.linearOrEmpty(gguf ? GGUFTensorNames.key(l) : LlamaTensorNames.key(l), out: kv * d, in: h)
      if unpermuteRoPE {
        query = unpermutingRoPERows(query, headCount: q)
        key = unpermutingRoPERows(key, headCount: kv)
      }
      layers.append(LayerWeights(
        attentionNorm: Norm(weight: try s.normWeight((gguf ? GGUFTensorNames.attentionNorm(l) : LlamaTensorNames.attentionNorm(l)) + ".weight", h, unused: q == 0)),
        query: query, key: key,
        value: try s.linearOrEmpty(gguf ? GGUFTensorNames.value(l) : LlamaTensorNames.value(l), out: kv * d, in: h),
        output: try s.linearOrEmpty(gguf ? GGUFTensorNames.attentionOutput(l) : LlamaTensorNames.attentionOutput(l), out: h, in: q * d),
        mlpNorm: Norm(weight: try s.normWeight((gguf ? GGUFTensorNames.mlpNorm(l) : LlamaTensorNames.mlpNorm(l)) + ".weight", h, unused: inner == 0)),
        gate: try s.linearOrEmpty(gguf ? GGUFTensorNames.gate(l) : LlamaTensorNames.gate(l), out: inner, in: h),
        up: try s.linearOrEmpty(gguf ? GGUFTensorNames.up(l) : LlamaTensorNames.up(l), out: inner, in: h),
        down: try s.linearOrEmpty(gguf ? GGUFTensorNames.down(l) : LlamaTensorNames.down(l), out: h, in: inner)))
    }
    let embedding = try s.matrix(gguf ? GGUFTensorNames.tokenEmbedding : LlamaTensorNames.tokenEmbedding, [v, h])
    let headName = gguf ? GGUFTensorNames.outputHead : LlamaTensorNames.outputHead
    return Weights(tokenEmbedding: embedding, positionEmbedding: nil, layers: layers,
                   finalNorm: Norm(weight: try s.vector((gguf ? GGUFTensorNames.finalNorm : LlamaTensorNames.finalNorm) + ".weight", h)),
                   outputHead: c.tieWordEmbeddings ? nil : try s.matrix(headName, [v, h]))
  }

  /// Splits a fused (3·H × H) Q/K/V linear (rows: Q, then K, then V) into three.
  static func splitQKV(_ fused: Linear, q: Int, kv: Int) -> (Linear, Linear, Linear) {
    let ranges = [0..<q, q..<(q + kv), (q + kv)..<(q + 2 * kv)]
    let parts = ranges.map { r in
      Linear(weight: fused.weight.selectingRows(Array(r)), bias: fused.bias.map { Array($0[r]) })
    }
    return (parts[0], parts[1], parts[2])
  }

  static func buildGPT2FromGGUF(_ c: ModelConfig, _ s: TensorSource) throws -> Weights {
    let h = c.hiddenSize, d = c.headDimension, v = c.vocabularySize
    var layers: [LayerWeights] = []
    for (l, shape) in c.layers.enumerated() {
      let q = shape.queryHeadCount * d, kv = shape.keyValueHeadCount * d, inner = shape.intermediateSize
      let fused = try s.linear(GGUFTensorNames.queryKeyValue(l), out: q + 2 * kv, in: h)
      let (query, key, value) = splitQKV(fused, q: q, kv: kv)
      layers.append(LayerWeights(
        attentionNorm: Norm(weight: try s.vector(GGUFTensorNames.attentionNorm(l) + ".weight", h),
                            bias: try s.vector(GGUFTensorNames.attentionNorm(l) + ".bias", h)),
        query: query, key: key, value: value,
        output: try s.linear(GGUFTensorNames.attentionOutput(l), out: h, in: q),
        mlpNorm: Norm(weight: try s.vector(GGUFTensorNames.mlpNorm(l) + ".weight", h),
                      bias: try s.vector(GGUFTensorNames.mlpNorm(l) + ".bias", h)),
        gate: nil,
        up: try s.linear(GGUFTensorNames.up(l), out: inner, in: h),
        down: try s.linear(GGUFTensorNames.down(l), out: h, in: inner)))
    }
    return Weights(tokenEmbedding: try s.matrix(GGUFTensorNames.tokenEmbedding, [v, h]),
                   positionEmbedding: try s.matrix(GGUFTensorNames.positionEmbedding, [c.maxPositions, h]),
                   layers: layers,
                   finalNorm: Norm(weight: try s.vector(GGUFTensorNames.finalNorm + ".weight", h),
                                   bias: try s.vector(GGUFTensorNames.finalNorm + ".bias", h)),
                   outputHead: c.tieWordEmbeddings ? nil : try s.matrix(GGUFTensorNames.outputHead, [v, h]))
  }

  /// A Conv1D (weight stored in × out) as a Linear (out × in).
  static func conv1D(_ s: TensorSource, _ base: String, in inputs: Int, out: Int) throws -> Linear {
    Linear(weight: try s.matrix(base + ".weight", [inputs, out]).transposed(),
           bias: try s.optionalVector(base + ".bias", out))
  }

  static func buildGPT2FromHF(_ c: ModelConfig, _ s: TensorSource, prefix p: String) throws -> Weights {
    let h = c.hiddenSize, d = c.headDimension, v = c.vocabularySize
    var layers: [LayerWeights] = []
    for (l, shape) in c.layers.enumerated() {
      let q = shape.queryHeadCount * d, kv = shape.keyValueHeadCount * d, inner = shape.intermediateSize
      let fused = try conv1D(s, GPT2TensorNames.queryKeyValue(p, l), in: h, out: q + 2 * kv)
      let (query, key, value) = splitQKV(fused, q: q, kv: kv)
      layers.append(LayerWeights(
        attentionNorm: Norm(weight: try s.vector(GPT2TensorNames.attentionNorm(p, l) + ".weight", h),
                            bias: try s.vector(GPT2TensorNames.attentionNorm(p, l) + ".bias", h)),
        query: query, key: key, value: value,
        output: try conv1D(s, GPT2TensorNames.attentionOutput(p, l), in: q, out: h),
        mlpNorm: Norm(weight: try s.vector(GPT2TensorNames.mlpNorm(p, l) + ".weight", h),
                      bias: try s.vector(GPT2TensorNames.mlpNorm(p, l) + ".bias", h)),
        gate: nil,
        up: try conv1D(s, GPT2TensorNames.up(p, l), in: h, out: inner),
        down: try conv1D(s, GPT2TensorNames.down(p, l), in: inner, out: h)))
    }
    return Weights(tokenEmbedding: try s.matrix(GPT2TensorNames.tokenEmbedding(p), [v, h]),
                   positionEmbedding: try s.matrix(GPT2TensorNames.positionEmbedding(p), [c.maxPositions, h]),
                   layers: layers,
                   finalNorm: Norm(weight: try s.vector(GPT2TensorNames.finalNorm(p) + ".weight", h),
                                   bias: try s.vector(GPT2TensorNames.finalNorm(p) + ".bias", h)),
                   outputHead: c.tieWordEmbeddings ? nil : try s.matrix(GPT2TensorNames.outputHead, [v, h]))
  }
}

// MARK: - RoPE row order

/// Undoes llama.cpp's Q/K row permutation. Within each head of d rows, HF orders the rows as
/// two halves [x₀ … x_{d/2−1} | y₀ … y_{d/2−1}] (RoPE rotates the pairs (xⱼ, yⱼ)); the GGUF
/// converter interleaves them as x₀ y₀ x₁ y₁ …. So HF row `h·d + i·d/2 + j` (i ∈ {0, 1})
/// is GGUF row `h·d + 2j + i`. The bias, when present, is reordered the same way.
public func unpermutingRoPERows(_ linear: Linear, headCount: Int) -> Linear {
  Linear(weight: linear.weight.selectingRows(ropeRowOrder(rows: linear.outputCount, headCount: headCount)),
         bias: linear.bias.map { b in ropeRowOrder(rows: b.count, headCount: headCount).map { b[$0] } })
}

/// For each HF row, the GGUF row it comes from (see `unpermutingRoPERows`).
public func ropeRowOrder(rows: Int, headCount: Int) -> [Int] {
  guard headCount > 0, rows % headCount == 0, (rows / headCount) % 2 == 0 else { return Array(0..<rows) }
  let d = rows / headCount, half = d / 2
  var order = [Int](repeating: 0, count: rows)
  for h in 0..<headCount {
    for i in 0..<2 {
      for j in 0..<half { order[h * d + i * half + j] = h * d + 2 * j + i }
    }
  }
  return order
}
