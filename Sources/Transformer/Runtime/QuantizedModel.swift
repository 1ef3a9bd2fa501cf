// The edge runtime's model: a llama-family GGUF whose weights stay in their stored types
// (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q6_K), read in place from the memory-mapped
// file. (Q5_0 matters: Pare's and llama.cpp's K-quant exports store rows that are not whole
// 256-blocks — SmolLM2's 576-wide inputs — as Q5_0.)
// Run time memory ≈ the file's size + the KV cache + a few activation vectors.
//
// Differences from `Model` (Model/Weights.swift), all deliberate:
// - Q and K keep the GGUF row order (llama.cpp's interleaved RoPE pairs): RoPE rotates the
//   pairs (2i, 2i+1) here instead of un-permuting rows on load. Q·K is the same sum either way.
// - Dequantisable types without a kernel are dequantised to F32 on load.
// - Only the forward pass: pruning, calibration and perplexity evaluation keep `Model` and
//   its F32 weights (their numerics unchanged, see README "Decisions").

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinearAlgebra

/// A linear layer of the runtime: stored-type weight (out × in) and an optional F32 bias.
struct QuantizedLinear: @unchecked Sendable {
  var weight: QuantizedMatrix
  var bias: FloatBuffer?
}

/// One layer of the runtime (shapes as `LayerShape`; attention absent when it has no heads).
struct QuantizedLayer: @unchecked Sendable {
  var queryHeads: Int
  var keyValueHeads: Int
  var keyValueHeadOfQuery: [Int]
  var intermediateSize: Int
  var attentionNorm: FloatBuffer
  var query: QuantizedLinear
  var key: QuantizedLinear
  var value: QuantizedLinear
  var output: QuantizedLinear
  var mlpNorm: FloatBuffer
  var gate: QuantizedLinear
  var up: QuantizedLinear
  var down: QuantizedLinear
}

/// Keeps a GGUF file's mapping alive for the matrices that borrow its bytes.
final class MappedFile: @unchecked Sendable {
  let file: GGUFFile
  let base: UnsafeRawPointer?
  init(_ file: GGUFFile) {
    self.file = file
    // The mapping of an unmutated `Data` never moves: its address stays valid while `file` lives.
    base = file.data.withUnsafeBytes { $0.baseAddress }
  }
}

/// A llama-family model computing on its stored-type weights.
public final class QuantizedModel: @unchecked Sendable {
  public let config: ModelConfig
  let layers: [QuantizedLayer]
  let embedding: QuantizedMatrix
  let head: QuantizedMatrix
  let finalNorm: FloatBuffer
  let inverseFrequencies: [Float]
  let mapped: MappedFile?
  /// Bytes of all weight matrices as held (stored types; tied head counted once).
  public let weightByteCount: Int
  /// The stored types of the weight matrices, sorted by name.
  public let computedTypes: [String]

  /// Whether the runtime runs models of `config`'s family (llama; GPT-2 uses `Model`).
  public static func supports(_ config: ModelConfig) -> Bool { config.architecture == .llama }

  /// Opens a GGUF file and maps its weights (see `init(file:allowNonFinite:)`).
  public convenience init(path: String, allowNonFinite: Bool = false) throws {
    let file = try GGUFFile(contentsOf: URL(fileURLWithPath: path))
    try self.init(file: file, allowNonFinite: allowNonFinite)
  }

  /// The model of a parsed GGUF file. Every weight is checked to be finite (dequantised a row
  /// at a time, nothing kept) unless `allowNonFinite`.
  /// - Throws: `ModelFileError` (unsupported family, missing tensor, wrong shape, non-finite
  ///   weight), `GGUFError` for tensor types Pare cannot read.
  public init(file: GGUFFile, allowNonFinite: Bool = false) throws {
    let c = try ModelConfig(gguf: file)
    guard Self.supports(c) else {
      throw ModelFileError.unsupportedFeature("the quantised runtime runs llama-family models only, not \(c.architecture.rawValue)")
    }
    config = c
    let mapping = MappedFile(file)
    mapped = mapping
    let loader = Loader(file: file, mapping: mapping, allowNonFinite: allowNonFinite)
    let h = c.hiddenSize, d = c.headDimension
    var layers: [QuantizedLayer] = []
    for (l, shape) in c.layers.enumerated() {
      let q = shape.queryHeadCount, kv = shape.keyValueHeadCount, inner = shape.intermediateSize
      layers.append(QuantizedLayer(
        queryHeads: q, keyValueHeads: kv, keyValueHeadOfQuery: shape.keyValueHeadOfQuery, intermediateSize: inner,
        attentionNorm: try loader.normWeight(GGUFTensorNames.attentionNorm(l) + ".weight", h, unused: q == 0),
        query: try loader.linear(GGUFTensorNames.query(l), out: q * d, in: h),
        key: try loader.linear(GGUFTensorNames.key(l), out: kv * d, in: h),
        value: try loader.linear(GGUFTensorNames.value(l), out: kv * d, in: h),
        output: try loader.linear(GGUFTensorNames.attentionOutput(l), out: h, in: q * d),
        mlpNorm: try loader.normWeight(GGUFTensorNames.mlpNorm(l) + ".weight", h, unused: inner == 0),
        gate: try loader.linear(GGUFTensorNames.gate(l), out: inner, in: h),
        up: try loader.linear(GGUFTensorNames.up(l), out: inner, in: h),
        down: try loader.linear(GGUFTensorNames.down(l), out: h, in: inner)))
    }
    self.layers = layers
    embedding = try loader.matrix(GGUFTensorNames.tokenEmbedding, [c.vocabularySize, h])
    head = c.tieWordEmbeddings ? embedding : try loader.matrix(GGUFTensorNames.outputHead, [c.vocabularySize, h])
    finalNorm = try loader.vector(GGUFTensorNames.finalNorm + ".weight", h)
    inverseFrequencies = RotaryTable(headDimension: d, theta: c.ropeTheta).inverseFrequencies
    var matrices: [QuantizedMatrix] = [embedding]
    if !c.tieWordEmbeddings { matrices.append(head) }
    for l in layers { matrices += [l.query, l.key, l.value, l.output, l.gate, l.up, l.down].map(\.weight) }
    weightByteCount = matrices.reduce(0) { $0 + $1.byteCount }
    computedTypes = Set(matrices.filter { $0.rows * $0.columns > 0 }.map(\.type.name)).sorted()
  }

  /// Reads tensors of one file into runtime weights.
  private struct Loader {
    var file: GGUFFile
    var mapping: MappedFile
    var allowNonFinite: Bool

    func tensor(_ name: String, _ expected: [Int]) throws -> GGUFTensorInfo {
      guard let t = file.tensor(named: name) else { throw ModelFileError.missingTensor(name) }
      guard t.shape == expected else { throw ModelFileError.shapeMismatch(tensor: name, expected: expected, actual: t.shape) }
      return t
    }

    /// The matrix `name` of shape `expected` (out × in): borrowed from the mapping when a
    /// kernel computes on its type, else dequantised to F32.
    func matrix(_ name: String, _ expected: [Int]) throws -> QuantizedMatrix {
      let t = try tensor(name, expected)
      guard t.type.isDequantisable else {
        throw GGUFError(.unsupportedTensorType(tensor: name, type: t.type.name), at: file.dataOffset + t.offset)
      }
      let rows = expected[0], columns = expected[1]
      let m: QuantizedMatrix
      if QuantizedMatrix.computableTypes.contains(t.type), let base = mapping.base {
        m = QuantizedMatrix(type: t.type, rows: rows, columns: columns,
                            borrowing: base + file.dataOffset + t.offset, owner: mapping)
      } else {
        let values = try file.floats(t)
        m = values.withUnsafeBytes { QuantizedMatrix(type: .f32, rows: rows, columns: columns, bytes: $0, keepingRows: false) }
      }
      if !allowNonFinite, let (row, column, value) = m.firstNonFinite() {
        throw ModelFileError.nonFiniteWeight(tensor: name, index: row * columns + column, value: "\(value)")
      }
      return m
    }

    func vector(_ name: String, _ count: Int) throws -> FloatBuffer {
      let t = try tensor(name, [count])
      let values = try file.floats(t)
      if !allowNonFinite, let i = values.firstNonFiniteIndex() {
        throw ModelFileError.nonFiniteWeight(tensor: name, index: i, value: "\(values[i])")
      }
      return FloatBuffer(values)
    }

    func normWeight(_ name: String, _ count: Int, unused: Bool) throws -> FloatBuffer {
      if unused && file.tensor(named: name) == nil { return FloatBuffer(count: count, repeating: 1) }
      return try vector(name, count)
    }

    /// `base.weight` and the optional `base.bias`; an absent weight with no outputs or no
    /// inputs (a head-free or channel-free pruned layer) is an empty F32 matrix.
    func linear(_ base: String, out: Int, in inputs: Int) throws -> QuantizedLinear {
      let bias = file.tensor(named: base + ".bias") == nil ? nil : try vector(base + ".bias", out)
      if out * inputs == 0 && file.tensor(named: base + ".weight") == nil {
        let empty = QuantizedMatrix(type: .f32, rows: out, columns: inputs, bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        return QuantizedLinear(weight: empty, bias: bias)
      }
      return QuantizedLinear(weight: try matrix(base + ".weight", [out, inputs]), bias: bias)
    }
  }
}

extension QuantizedMatrix {
  /// The first non-finite element (row, column, value), dequantising rows in parallel
  /// pieces into small buffers (nothing the size of the matrix is allocated).
  func firstNonFinite() -> (Int, Int, Float)? {
    let rowsPerTask = 64, k = columns
    let tasks = (rows + rowsPerTask - 1) / rowsPerTask
    if tasks == 0 || k == 0 { return nil }
    let found = ResultSlots<(Int, Int, Float)?>(count: tasks)
    parallelFor(tasks: tasks) { t in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { buffer in
        for r in (t * rowsPerTask)..<min(rows, (t + 1) * rowsPerTask) {
          dequantizeRow(r, into: buffer.baseAddress!)
          if let c = firstNonFiniteIndex(UnsafeBufferPointer(buffer)) {
            found.set(t, (r, c, buffer[c]))
            return
          }
        }
        found.set(t, nil)
      }
    }
    return found.values.lazy.compactMap { $0 }.first
  }
}

extension QuantizedModel {
  /// The runtime model of `path` when it is a GGUF file of a family the runtime supports;
  /// nil for folders and other families (callers then use `ModelLoader`).
  /// - Throws: as `init(file:allowNonFinite:)` for a supported file that is broken.
  public static func openIfSupported(path: String, allowNonFinite: Bool = false) throws -> QuantizedModel? {
    var isDirectory = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory else { return nil }
    guard let file = try? GGUFFile(contentsOf: URL(fileURLWithPath: path)),
          let config = try? ModelConfig(gguf: file), supports(config) else { return nil }
    return try QuantizedModel(file: file, allowNonFinite: allowNonFinite)
  }
}
