// Writes a model folder Pare (and Hugging Face libraries, for unpruned layouts) can read:
//
//   model.safetensors   HF tensor names; F32 by default, F16/BF16 on request
//   config.json         HF config plus a "pare" block with the per-layer sizes
//   tokenizer files     as given by the caller (tokenizer.json, vocab.json, merges.txt, …)
//   extra files         as given (report.json, report.md, …)
//
// Atomic (AtomicOutput.writeFolder): everything is written into a hidden staging folder beside
// the target, renamed into place only when complete; on any failure it is removed, and one
// left by a killed process is removed by the next write into the same folder.
// Weights holding NaN or ±Inf are refused before anything is written, unless allowed.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinearAlgebra

/// Writes a model folder atomically.
public struct ModelWriter: Sendable {
  /// Element type of the stored weights.
  public var dtype: StorageDType = .f32
  /// Tokenizer files to copy into the folder, by file name.
  public var tokenizerFiles: [String: Data] = [:]
  /// Other files (reports), by file name.
  public var extraFiles: [String: Data] = [:]
  /// Replace a non-empty existing target folder.
  public var overwrite = false
  /// The model that was read: never overwritten, even with `overwrite`.
  public var inputPath: String?
  /// Write weights that hold NaN or ±Inf (refused by default, naming the tensor).
  public var allowNonFinite = false
  /// Failure injection, for tests of atomicity: throw `writeFailed` after this many files
  /// have been written into the temporary folder. `nil` (the default) in normal use.
  public var failAfterFileCount: Int?
  /// config.json to write instead of `model.config.huggingFaceJSON()` (HF export).
  public var configJSON: JSONValue?

  public init(dtype: StorageDType = .f32, tokenizerFiles: [String: Data] = [:], extraFiles: [String: Data] = [:],
              overwrite: Bool = false, inputPath: String? = nil, allowNonFinite: Bool = false) {
    self.dtype = dtype
    self.tokenizerFiles = tokenizerFiles
    self.extraFiles = extraFiles
    self.overwrite = overwrite
    self.inputPath = inputPath
    self.allowNonFinite = allowNonFinite
  }

  /// Resolves and checks the target folder before any work: not the input (nor a folder
  /// holding it), not a file, empty or absent unless `overwrite`. `write` checks again.
  /// - Throws: `ModelFileError.outputIsInput`, `.outputExists`.
  @discardableResult
  public func checkTarget(_ target: URL) throws -> URL {
    let targetURL = target.standardizedFileURL.resolvingSymlinksInPath()
    if let inputPath {
      let input = URL(fileURLWithPath: inputPath).standardizedFileURL.resolvingSymlinksInPath().path
      let t = targetURL.path
      if input == t || input.hasPrefix(t.hasSuffix("/") ? t : t + "/") {
        throw ModelFileError.outputIsInput(path: target.path)
      }
    }
    var isDirectory = false
    if FileManager.default.fileExists(atPath: targetURL.path, isDirectory: &isDirectory) {
      guard isDirectory else { throw ModelFileError.outputExists(path: target.path) }
      let contents = (try? FileManager.default.contentsOfDirectory(atPath: targetURL.path)) ?? []
      guard contents.isEmpty || overwrite else { throw ModelFileError.outputExists(path: target.path) }
    }
    return targetURL
  }

  /// Writes `model` to the folder `target`.
  /// - Throws: `ModelFileError.outputIsInput`, `.outputExists` (also when another process
  ///   creates the target meanwhile), `.nonFiniteWeight`, `.writeFailed`; nothing is left
  ///   behind on failure and an existing target is untouched.
  public func write(_ model: Model, to target: URL) throws {
    let targetURL = try checkTarget(target)
    var files: [(String, Data?)] = []
    for (name, data) in tokenizerFiles.sorted(by: { $0.key < $1.key }) + extraFiles.sorted(by: { $0.key < $1.key }) {
      guard SafetensorsCollection.isPlainFileName(name), name != "config.json", name != "model.safetensors",
            !files.contains(where: { $0.0 == name }) else {
        throw ModelFileError.writeFailed(path: target.path, detail: "invalid or repeated extra file name '\(name)'")
      }
      files.append((name, data))
    }

    let tensors = Self.tensors(of: model)
    if !allowNonFinite {
      for t in tensors {
        if let i = t.values.firstNonFiniteIndex() {
          throw ModelFileError.nonFiniteWeight(tensor: t.name, index: i, value: "\(t.values[i])")
        }
      }
    }
    try AtomicOutput.writeFolder(at: targetURL, replace: overwrite) { temp in
      var written = 0
      func step() throws {
        written += 1
        if let limit = failAfterFileCount, written >= limit {
          throw ModelFileError.writeFailed(path: target.path, detail: "injected failure after \(written) file(s)")
        }
      }
      try SafetensorsWriter.write(tensors, dtype: dtype, to: temp.appendingPathComponent("model.safetensors"))
      try step()
      let config = Data(((configJSON ?? model.config.huggingFaceJSON()).serialized() + "\n").utf8)
      try config.write(to: temp.appendingPathComponent("config.json"))
      try step()
      for (name, data) in files {
        try (data ?? Data()).write(to: temp.appendingPathComponent(name))
        try step()
      }
    }
  }

  // MARK: - Tensors in HF layout

  /// The model's tensors under HF names and layouts (GPT-2: fused Conv1D c_attn, in × out).
  static func tensors(of model: Model) -> [TensorToWrite] {
    let c = model.config, w = model.weights
    var out: [TensorToWrite] = []
    func matrix(_ name: String, _ m: Matrix) { out.append(TensorToWrite(name: name, shape: [m.rows, m.columns], values: m.storage)) }
    func vector(_ name: String, _ v: [Float]) { out.append(TensorToWrite(name: name, shape: [v.count], values: v)) }
    func norm(_ base: String, _ n: Norm) {
      vector(base + ".weight", n.weight)
      if let b = n.bias { vector(base + ".bias", b) }
    }
    func linear(_ base: String, _ l: Linear) {
      matrix(base + ".weight", l.weight)
      if let b = l.bias { vector(base + ".bias", b) }
    }
    func conv1D(_ base: String, _ l: Linear) {
      matrix(base + ".weight", l.weight.transposed())
      if let b = l.bias { vector(base + ".bias", b) }
    }
    switch c.architecture {
    case .llama:
      matrix(LlamaTensorNames.tokenEmbedding, w.tokenEmbedding)
      for (l, layer) in w.layers.enumerated() {
        norm(LlamaTensorNames.attentionNorm(l), layer.attentionNorm)
        linear(LlamaTensorNames.query(l), layer.query)
        linear(LlamaTensorNames.key(l), layer.key)
        linear(LlamaTensorNames.value(l), layer.value)
        linear(LlamaTensorNames.attentionOutput(l), layer.output)
        norm(LlamaTensorNames.mlpNorm(l), layer.mlpNorm)
        if let gate = layer.gate { linear(LlamaTensorNames.gate(l), gate) }
        linear(LlamaTensorNames.up(l), layer.up)
        linear(LlamaTensorNames.down(l), layer.down)
      }
      norm(LlamaTensorNames.finalNorm, w.finalNorm)
      if let head = w.outputHead { matrix(LlamaTensorNames.outputHead, head) }
    case .gpt2:
      let p = "transformer."
      matrix(GPT2TensorNames.tokenEmbedding(p), w.tokenEmbedding)
      if let pos = w.positionEmbedding { matrix(GPT2TensorNames.positionEmbedding(p), pos) }
      for (l, layer) in w.layers.enumerated() {
        norm(GPT2TensorNames.attentionNorm(p, l), layer.attentionNorm)
        let parts = [layer.query, layer.key, layer.value]
        let fusedWeight = Matrix(rows: parts.reduce(0) { $0 + $1.outputCount }, columns: c.hiddenSize,
                                 storage: parts.flatMap(\.weight.storage))
        let anyBias = parts.contains { $0.bias != nil }
        let fusedBias: [Float]? = anyBias
          ? parts.flatMap { $0.bias ?? [Float](repeating: 0, count: $0.outputCount) } : nil
        conv1D(GPT2TensorNames.queryKeyValue(p, l), Linear(weight: fusedWeight, bias: fusedBias))
        conv1D(GPT2TensorNames.attentionOutput(p, l), layer.output)
        norm(GPT2TensorNames.mlpNorm(p, l), layer.mlpNorm)
        conv1D(GPT2TensorNames.up(p, l), layer.up)
        conv1D(GPT2TensorNames.down(p, l), layer.down)
      }
      norm(GPT2TensorNames.finalNorm(p), w.finalNorm)
      if let head = w.outputHead { matrix(GPT2TensorNames.outputHead, head) }
    }
    return out
  }
}
