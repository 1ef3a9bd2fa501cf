// Writing a model as a GGUF file llama.cpp loads (and Pare reads back).
//
// Architecture: a llama-family model whose layers share one shape is written as `llama`;
// per-layer shapes use llama.cpp's `deci` architecture, with `deci.attention.head_count`,
// `deci.attention.head_count_kv` and `deci.feed_forward_length` as one integer per layer and
// `deci.attention.key_length` / `value_length` written explicitly (llama.cpp would otherwise
// divide the hidden size by layer 0's head count). A `deci` layer with no heads has no
// attention tensors, and one with no MLP channels no MLP tensors (llama.cpp's loader rejects
// unused tensors). GPT-2 is written as `gpt2`, which has no per-layer sizes. The layout
// rewrites that make this possible are in ExportLayout.swift.
//
// Tensors: every 2-D weight is stored as the requested type; norms and biases stay F32 (as
// llama.cpp's converter keeps them). Q and K rows are permuted per head into llama.cpp's RoPE
// order (the inverse of `unpermutingRoPERows`). A row (the innermost dimension) must be whole
// blocks of the type; a K-quant row that is not whole 256-blocks falls back to the type
// llama-quantize would use (Q4_K → Q5_0, Q6_K → Q8_0), and a row that fits no block is an error.
//
// The file is written to a temporary file beside the target and renamed into place.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import Dispatch
import LinearAlgebra
import Synchronization

/// A request that cannot be exported as asked.
public enum ExportError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A tensor row cannot be stored as the requested type.
  case typeDoesNotFit(tensor: String, rowLength: Int, type: String, detail: String)
  /// The output file exists and overwriting was not asked for.
  case outputExists(path: String)
  /// The output is a folder where a file was asked for (or the reverse).
  case outputIsFolder(path: String)
  /// The output is the input model.
  case outputIsInput(path: String)
  /// The weights hold NaN or infinity.
  case nonFiniteWeight(tensor: String)
  /// Writing failed; nothing was left behind.
  case writeFailed(path: String, detail: String)

  public var description: String {
    switch self {
    case let .typeDoesNotFit(tensor, rowLength, type, detail):
      return "cannot store \(tensor) as \(type): its rows have \(rowLength) elements, \(detail)"
    case let .outputExists(path): return "\(path) exists (pass --overwrite to replace it)"
    case let .outputIsFolder(path): return "\(path) is a folder, not a file"
    case let .outputIsInput(path): return "refusing to write over the input model at \(path)"
    case let .nonFiniteWeight(tensor): return "tensor \(tensor) holds NaN or infinite values"
    case let .writeFailed(path, detail): return "could not write \(path): \(detail)"
    }
  }
}

/// What an export did.
public struct GGUFExportReport: Sendable {
  /// `llama`, `deci` or `gpt2`.
  public var architecture: String
  public var layout: LayoutChanges
  /// Number of tensors stored as each type (ggml names).
  public var tensorTypes: [String: Int] = [:]
  /// Tensors stored as another type than requested, with the reason.
  public var fallbacks: [String] = []
  /// Bytes of the file.
  public var byteCount = 0

  /// The lines `pare export` prints.
  public var lines: [String] {
    var out = ["architecture \(architecture); tensors " + tensorTypes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")]
    out += layout.lines
    if !fallbacks.isEmpty {
      out.append("\(fallbacks.count) tensor(s) stored as a fallback type: " + fallbacks.prefix(4).joined(separator: "; ")
                 + (fallbacks.count > 4 ? "; …" : ""))
    }
    return out
  }
}

/// Writes models as GGUF.
public enum GGUFExporter {
  /// Options of an export.
  public struct Options: Sendable {
    /// The type of the 2-D weights: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K or Q6_K.
    public var type: GGMLType = .f32
    public var groups: GroupEvening = .auto
    public var overwrite = false
    /// The model that was read: never overwritten.
    public var inputPath: String?
    /// `general.name`.
    public var name = "pare-export"
    public init(type: GGMLType = .f32, groups: GroupEvening = .auto, overwrite: Bool = false,
                inputPath: String? = nil, name: String = "pare-export") {
      self.type = type
      self.groups = groups
      self.overwrite = overwrite
      self.inputPath = inputPath
      self.name = name
    }
  }

  /// The types `pare export --type` accepts.
  public static let writableTypes: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q4_K, .q6_K]

  /// One tensor to write: its name, ggml dimensions (innermost first), type and values.
  struct Entry {
    var name: String
    var dimensions: [Int]
    var type: GGMLType
    var values: [Float]
    var byteCount: Int { dimensions.reduce(1, *) / type.blockSize * type.blockByteCount }
  }

  /// The type a tensor with rows of `rowLength` elements is stored as, or nil if none fits.
  static func storedType(_ type: GGMLType, rowLength: Int) -> GGMLType? {
    if rowLength % type.blockSize == 0 { return type }
    let fallback: GGMLType
    switch type {
    case .q4_K: fallback = .q5_0
    case .q6_K: fallback = .q8_0
    default: return nil
    }
    return rowLength % fallback.blockSize == 0 ? fallback : nil
  }

  /// The rewritten model and its tensors, ready to write: checks every shape against `type`.
  /// - Throws: `ExportError.typeDoesNotFit`, `.nonFiniteWeight`.
  static func prepare(_ model: Model, options: Options) throws(ExportError)
    -> (architecture: String, config: ModelConfig, entries: [Entry], report: GGUFExportReport)
  {
    let multiple = options.type.blockSize == 1 ? 1 : 32
    let (rewritten, changes): (Model, LayoutChanges)
    switch model.config.architecture {
    case .llama: (rewritten, changes) = ExportLayout.llamaCpp(model, groups: options.groups, channelMultiple: multiple)
    case .gpt2: (rewritten, changes) = ExportLayout.uniformGPT2(model, channelMultiple: multiple)
    }
    let c = rewritten.config, w = rewritten.weights
    let architecture = c.architecture == .gpt2 ? "gpt2" : (ExportLayout.isUniform(c) ? "llama" : "deci")
    var report = GGUFExportReport(architecture: architecture, layout: changes)
    var entries: [Entry] = []
    func check(_ name: String, _ values: [Float]) throws(ExportError) {
      for v in values where !v.isFinite { throw .nonFiniteWeight(tensor: name) }
    }
    func vector(_ name: String, _ v: [Float]) throws(ExportError) {
      try check(name, v)
      entries.append(Entry(name: name, dimensions: [v.count], type: .f32, values: v))
    }
    func matrix(_ name: String, _ m: Matrix) throws(ExportError) {
      try check(name, m.storage)
      guard let t = storedType(options.type, rowLength: m.columns) else {
        throw .typeDoesNotFit(tensor: name, rowLength: m.columns, type: options.type.name,
                              detail: "not a multiple of its \(options.type.blockSize)-element block")
      }
      if t != options.type {
        report.fallbacks.append("\(name) → \(t.name) (rows of \(m.columns) are not whole \(options.type.blockSize)-blocks)")
      }
      entries.append(Entry(name: name, dimensions: [m.columns, m.rows], type: t, values: m.storage))
    }
    func linear(_ base: String, _ l: Linear, zeroBias: Bool = false) throws(ExportError) {
      try matrix(base + ".weight", l.weight)
      if let b = l.bias ?? (zeroBias ? [Float](repeating: 0, count: l.outputCount) : nil) { try vector(base + ".bias", b) }
    }
    func norm(_ base: String, _ n: Norm) throws(ExportError) {
      try vector(base + ".weight", n.weight)
      if let b = n.bias { try vector(base + ".bias", b) }
    }
    try matrix(GGUFTensorNames.tokenEmbedding, w.tokenEmbedding)
    if c.architecture == .gpt2, let p = w.positionEmbedding {
      try check(GGUFTensorNames.positionEmbedding, p.storage)
      entries.append(Entry(name: GGUFTensorNames.positionEmbedding, dimensions: [p.columns, p.rows],
                           type: options.type.blockSize == 1 ? options.type : .f32, values: p.storage))
    }
    try norm(GGUFTensorNames.finalNorm, w.finalNorm)
    if let head = w.outputHead { try matrix(GGUFTensorNames.outputHead, head) }
    for (l, layer) in w.layers.enumerated() {
      let shape = c.layers[l]
      switch c.architecture {
      case .llama:
        if shape.queryHeadCount > 0 {
          try norm(GGUFTensorNames.attentionNorm(l), layer.attentionNorm)
          try linear(GGUFTensorNames.query(l), permutingRoPERows(layer.query, headCount: shape.queryHeadCount))
          try linear(GGUFTensorNames.key(l), permutingRoPERows(layer.key, headCount: shape.keyValueHeadCount))
          try linear(GGUFTensorNames.value(l), layer.value)
          try linear(GGUFTensorNames.attentionOutput(l), layer.output)
        }
        if shape.intermediateSize > 0 {
          try norm(GGUFTensorNames.mlpNorm(l), layer.mlpNorm)
          if let gate = layer.gate { try linear(GGUFTensorNames.gate(l), gate) }
          try linear(GGUFTensorNames.up(l), layer.up)
          try linear(GGUFTensorNames.down(l), layer.down)
        }
      case .gpt2:
        try norm(GGUFTensorNames.attentionNorm(l), layer.attentionNorm)
        let parts = [layer.query, layer.key, layer.value]
        let fused = Linear(weight: Matrix(rows: parts.reduce(0) { $0 + $1.outputCount }, columns: c.hiddenSize,
                                          storage: parts.flatMap(\.weight.storage)),
                           bias: parts.flatMap { $0.bias ?? [Float](repeating: 0, count: $0.outputCount) })
        try linear(GGUFTensorNames.queryKeyValue(l), fused)
        try linear(GGUFTensorNames.attentionOutput(l), layer.output, zeroBias: true)
        try norm(GGUFTensorNames.mlpNorm(l), layer.mlpNorm)
        try linear(GGUFTensorNames.up(l), layer.up, zeroBias: true)
        try linear(GGUFTensorNames.down(l), layer.down, zeroBias: true)
      }
    }
    for e in entries { report.tensorTypes[e.type.name, default: 0] += 1 }
    return (architecture, c, entries, report)
  }

  /// The GGUF metadata describing `config` under `architecture`.
  static func modelMetadata(_ c: ModelConfig, architecture a: String, options: Options) -> [(String, GGUFValue)] {
    var m: [(String, GGUFValue)] = [
      ("general.architecture", .string(a)),
      ("general.name", .string(options.name)),
      ("general.file_type", .uint32(fileType(options.type))),
    ]
    if options.type.blockSize > 1 { m.append(("general.quantization_version", .uint32(2))) }
    let heads = c.layers.map(\.queryHeadCount), kv = c.layers.map(\.keyValueHeadCount)
    let inner = c.layers.map(\.intermediateSize)
    func perLayer(_ values: [Int]) -> GGUFValue {
      Set(values).count == 1 && a != "deci" ? .uint32(UInt32(values[0])) : .array(values.map { .int32(Int32($0)) })
    }
    m += [
      ("\(a).block_count", .uint32(UInt32(c.layerCount))),
      ("\(a).context_length", .uint32(UInt32(c.maxPositions))),
      ("\(a).embedding_length", .uint32(UInt32(c.hiddenSize))),
      ("\(a).feed_forward_length", perLayer(inner)),
      ("\(a).attention.head_count", perLayer(heads)),
    ]
    if c.architecture == .llama {
      m += [
        ("\(a).attention.head_count_kv", perLayer(kv)),
        ("\(a).attention.key_length", .uint32(UInt32(c.headDimension))),
        ("\(a).attention.value_length", .uint32(UInt32(c.headDimension))),
        ("\(a).attention.layer_norm_rms_epsilon", .float32(c.normEpsilon)),
        ("\(a).rope.freq_base", .float32(c.ropeTheta)),
        ("\(a).rope.dimension_count", .uint32(UInt32(c.headDimension))),
        ("\(a).vocab_size", .uint32(UInt32(c.vocabularySize))),
      ]
    } else {
      m.append(("\(a).attention.layer_norm_epsilon", .float32(c.normEpsilon)))
    }
    return m
  }

  /// llama.cpp's `llama_ftype` for a file whose weights are mostly `type`.
  static func fileType(_ type: GGMLType) -> UInt32 {
    switch type {
    case .f16: return 1
    case .q4_0: return 2
    case .q4_1: return 3
    case .q8_0: return 7
    case .q4_K: return 14
    case .q6_K: return 18
    case .bf16: return 32
    default: return 0
    }
  }

  /// Writes `model` to the GGUF file `target`, with `tokenizer` metadata (`tokenizer.*` keys).
  /// - Throws: `ExportError`; on failure nothing is left behind and an existing target is untouched.
  @discardableResult
  public static func write(_ model: Model, tokenizer: [(String, GGUFValue)], to target: URL,
                           options: Options) throws -> GGUFExportReport {
    precondition(writableTypes.contains(options.type), "cannot write \(options.type.name)")
    let targetURL = try checkTarget(target, options.overwrite, options.inputPath)
    var (architecture, config, entries, report) = try prepare(model, options: options)
    var metadata = modelMetadata(config, architecture: architecture, options: options)
    metadata += tokenizer.filter { $0.0.hasPrefix("tokenizer.") }
    metadata.append(("general.alignment", .uint32(UInt32(GGUFFile.defaultAlignment))))
    report.byteCount = try writeAtomically(to: targetURL, displayPath: target.path) { output in
      try writeFile(metadata: metadata, entries: &entries, to: output)
    }
    return report
  }

  /// Resolves and checks the target: not the input, not a folder, absent unless `overwrite`.
  @discardableResult
  public static func checkTarget(_ target: URL, _ overwrite: Bool, _ inputPath: String?) throws(ExportError) -> URL {
    let targetURL = target.standardizedFileURL.resolvingSymlinksInPath()
    if let inputPath {
      let input = URL(fileURLWithPath: inputPath).standardizedFileURL.resolvingSymlinksInPath().path
      let t = targetURL.path
      if input == t || input.hasPrefix(t.hasSuffix("/") ? t : t + "/") { throw .outputIsInput(path: target.path) }
    }
    var isDirectory = false
    if FileManager.default.fileExists(atPath: targetURL.path, isDirectory: &isDirectory) {
      if isDirectory { throw .outputIsFolder(path: target.path) }
      if !overwrite { throw .outputExists(path: target.path) }
    }
    return targetURL
  }

  /// A C stdio stream being written; `put` remembers the first failure.
  final class Output {
    let stream: UnsafeMutablePointer<FILE>
    var ok = true
    init(_ stream: UnsafeMutablePointer<FILE>) { self.stream = stream }
    func put(_ bytes: [UInt8]) {
      guard ok, !bytes.isEmpty else { return }
      ok = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, stream) == $0.count }
    }
  }

  /// Creates a temporary file beside `url` ("x": it must not exist), lets `body` fill it,
  /// and renames it to `url`. Returns the file's size. The temporary name is AtomicOutput's
  /// staging name, which carries this process's PID: another pare writing into the same
  /// folder removes only the staging files of processes that are gone, never this one.
  static func writeAtomically(to url: URL, displayPath: String, _ body: (Output) throws -> Void) throws -> Int {
    let parent = url.deletingLastPathComponent()
    let temp = AtomicOutput.stagingURL(for: url)
    guard let stream = fopen(temp.path, "wbx") else {
      throw ExportError.writeFailed(path: displayPath, detail: "cannot create a file in \(parent.path)")
    }
    let output = Output(stream)
    var isOpen = true
    do {
      try body(output)
      let size = Int(ftello(stream))
      let flushed = fflush(stream) == 0
      isOpen = false
      let closed = fclose(stream) == 0
      guard output.ok, flushed, closed else {
        throw ExportError.writeFailed(path: displayPath, detail: "write error (disk full?)")
      }
      if AtomicOutput.stallBeforeCommit > 0 { usleep(AtomicOutput.stallBeforeCommit * 1000) }
      guard rename(temp.path, url.path) == 0 else {
        throw ExportError.writeFailed(path: displayPath, detail: "cannot rename the temporary file into place")
      }
      return size
    } catch {
      if isOpen { _ = fclose(stream) }
      unlink(temp.path)
      if let e = error as? ExportError { throw e }
      throw ExportError.writeFailed(path: displayPath, detail: "\(error)")
    }
  }

  // MARK: - Bytes

  /// Rows of each parallel quantisation task.
  private static let rowsPerTask = 64

  /// The bytes of `values` (rows of `rowLength`) stored as `type`, quantised in parallel.
  static func encode(_ values: [Float], rowLength: Int, type: GGMLType) -> [UInt8] {
    let rows = values.count / max(rowLength, 1)
    let tasks = (rows + rowsPerTask - 1) / rowsPerTask
    if tasks <= 1 || type.blockSize == 1 { return GGMLQuantizer.quantize(type, values[...]) }
    let results = Mutex([[UInt8]](repeating: [], count: tasks))
    let next = Atomic<Int>(0)
    let threads = min(tasks, Parallelism.effectiveThreads)
    DispatchQueue.concurrentPerform(iterations: threads) { _ in
      while true {
        let t = next.add(1, ordering: .relaxed).oldValue
        if t >= tasks { break }
        let lo = t * rowsPerTask * rowLength, hi = min(rows, (t + 1) * rowsPerTask) * rowLength
        let bytes = GGMLQuantizer.quantize(type, values[lo..<hi])
        results.withLock { $0[t] = bytes }
      }
    }
    return results.withLock { $0.flatMap { $0 } }
  }

  /// Writes the header, then every tensor's data, padded to the alignment. `entries` are
  /// emptied as they are written, to free memory early.
  static func writeFile(metadata: [(String, GGUFValue)], entries: inout [Entry], to output: Output) throws {
    var header = GGUFHeaderBytes()
    header.u32(0x4655_4747)
    header.u32(3)
    header.u64(UInt64(entries.count))
    header.u64(UInt64(metadata.count))
    for (k, v) in metadata {
      header.string(k)
      header.u32(GGUFHeaderBytes.typeID(v))
      header.value(v)
    }
    let alignment = GGUFFile.defaultAlignment
    var offset = 0
    for e in entries {
      header.string(e.name)
      header.u32(UInt32(e.dimensions.count))
      for d in e.dimensions { header.u64(UInt64(d)) }
      header.u32(e.type.rawValue)
      header.u64(UInt64(offset))
      offset += (e.byteCount + alignment - 1) / alignment * alignment
    }
    while header.bytes.count % alignment != 0 { header.bytes.append(0) }
    output.put(header.bytes)
    for i in entries.indices {
      var bytes = encode(entries[i].values, rowLength: entries[i].dimensions[0], type: entries[i].type)
      precondition(bytes.count == entries[i].byteCount)
      entries[i].values = []
      while bytes.count % alignment != 0 { bytes.append(0) }
      output.put(bytes)
    }
  }
}

/// Little-endian GGUF header encoding (the exporter's and `GGUFEncoder`'s).
struct GGUFHeaderBytes {
  var bytes: [UInt8] = []
  /// The element type declared for an empty array, which has no first element to name one.
  var emptyArrayElementType: UInt32 = 8  // strings (e.g. a tokenizer without merges)
  mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
  mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
  mutating func string(_ s: String) {
    u64(UInt64(s.utf8.count))
    bytes.append(contentsOf: s.utf8)
  }

  static func typeID(_ v: GGUFValue) -> UInt32 {
    switch v {
    case .uint8: return 0
    case .int8: return 1
    case .uint16: return 2
    case .int16: return 3
    case .uint32: return 4
    case .int32: return 5
    case .float32: return 6
    case .bool: return 7
    case .string: return 8
    case .array: return 9
    case .uint64: return 10
    case .int64: return 11
    case .float64: return 12
    }
  }

  mutating func value(_ v: GGUFValue) {
    switch v {
    case let .uint8(x): bytes.append(x)
    case let .int8(x): bytes.append(UInt8(bitPattern: x))
    case let .uint16(x): withUnsafeBytes(of: x.littleEndian) { bytes.append(contentsOf: $0) }
    case let .int16(x): withUnsafeBytes(of: x.littleEndian) { bytes.append(contentsOf: $0) }
    case let .uint32(x): u32(x)
    case let .int32(x): u32(UInt32(bitPattern: x))
    case let .float32(x): u32(x.bitPattern)
    case let .bool(x): bytes.append(x ? 1 : 0)
    case let .string(s): string(s)
    case let .array(a):
      u32(a.first.map(Self.typeID) ?? emptyArrayElementType)
      u64(UInt64(a.count))
      for e in a { value(e) }
    case let .uint64(x): u64(x)
    case let .int64(x): u64(UInt64(bitPattern: x))
    case let .float64(x): u64(x.bitPattern)
    }
  }
}

// MARK: - RoPE row order

/// llama.cpp's Q/K row order: the inverse of `unpermutingRoPERows`.
public func permutingRoPERows(_ linear: Linear, headCount: Int) -> Linear {
  let order = ropeRowOrder(rows: linear.outputCount, headCount: headCount)
  var inverse = [Int](repeating: 0, count: order.count)
  for (hf, gguf) in order.enumerated() { inverse[gguf] = hf }
  return Linear(weight: linear.weight.selectingRows(inverse), bias: linear.bias.map { b in inverse.map { b[$0] } })
}
