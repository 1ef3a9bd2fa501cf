// GGUF reader (versions 2 and 3). Layout, all little-endian:
//
//   magic u32 'GGUF' · version u32 · tensor_count u64 · kv_count u64
//   kv_count × (key: string · value_type u32 · value)
//   tensor_count × (name: string · n_dims u32 · n_dims × u64 (innermost first) · ggml_type u32
//                   · offset u64, relative to the data section)
//   padding to `general.alignment` (default 32) · data section
//
// string = u64 length · bytes (UTF-8, no terminator); array = element type u32 · count u64 ·
// elements. Every count and length is checked against the bytes that remain before anything
// is allocated, so a hostile file cannot make the reader allocate more than the file's size.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One tensor's entry in a GGUF file's tensor table.
public struct GGUFTensorInfo: Sendable, Equatable {
  public var name: String
  /// Dimensions in ggml order: `dimensions[0]` is the innermost (contiguous) one. A weight of
  /// PyTorch shape (out × in) is stored as `[in, out]`.
  public var dimensions: [Int]
  public var type: GGMLType
  /// Byte offset of the tensor inside the data section.
  public var offset: Int
  /// Bytes the tensor occupies.
  public var byteCount: Int
  /// Product of the dimensions.
  public var elementCount: Int

  /// Row-major shape, outermost first (the PyTorch / safetensors order).
  public var shape: [Int] { dimensions.reversed() }
}

/// A parsed GGUF file: metadata, tensor table and the (memory-mapped) data section.
public struct GGUFFile: Sendable {
  // MARK: - Limits (named, so a hostile file is refused rather than obeyed)

  /// Most tensors a file may declare.
  public static let maxTensorCount = 1 << 20
  /// Most metadata entries a file may declare.
  public static let maxMetadataCount = 1 << 20
  /// Longest string (key, value or tensor name), in bytes.
  public static let maxStringLength = 1 << 30
  /// Most elements in one metadata array.
  public static let maxArrayCount = 1 << 30
  /// Deepest nesting of metadata arrays.
  public static let maxArrayDepth = 3
  /// Most dimensions a tensor may have (ggml's GGML_MAX_DIMS).
  public static let maxDimensions = 4
  /// Alignment of the data section when `general.alignment` is absent.
  public static let defaultAlignment = 32

  // MARK: - Contents

  /// Format version (2 or 3).
  public let version: UInt32
  /// All metadata key/value pairs.
  public let metadata: [String: GGUFValue]
  /// Metadata keys in file order.
  public let metadataKeys: [String]
  /// Tensor infos in file order.
  public let tensors: [GGUFTensorInfo]
  /// Alignment of tensor offsets and of the data section (from `general.alignment`).
  public let alignment: Int
  /// Byte offset of the data section from the start of the file.
  public let dataOffset: Int
  /// Size of the whole file in bytes.
  public let fileSize: Int
  /// The file's bytes (memory-mapped where the platform allows).
  public let data: Data
  private let tensorIndex: [String: Int]

  /// Opens, maps and validates a GGUF file: header, every metadata entry, every tensor info,
  /// alignment, and that the tensors lie inside the data section without overlapping.
  ///
  /// - Throws: `GGUFError` (located at a byte offset) for any malformed field; Foundation's
  ///   error when the file cannot be read.
  public init(contentsOf url: URL) throws {
    let data = try Data(readingFile: url, options: .alwaysMapped)
    try self.init(data: data)
  }

  /// Parses and validates GGUF bytes already in memory.
  public init(data: Data) throws {
    self.data = data
    fileSize = data.count
    let parsed = try data.withUnsafeBytes { raw in
      var parser = GGUFParser(bytes: raw)
      return try parser.parse()
    }
    version = parsed.version
    metadata = parsed.metadata
    metadataKeys = parsed.keys
    tensors = parsed.tensors
    alignment = parsed.alignment
    dataOffset = parsed.dataOffset
    var index: [String: Int] = [:]
    index.reserveCapacity(tensors.count)
    for (i, t) in tensors.enumerated() { index[t.name] = i }
    tensorIndex = index
  }

  /// The tensor info of `name`, if present.
  public func tensor(named name: String) -> GGUFTensorInfo? {
    tensorIndex[name].map { tensors[$0] }
  }

  /// Size of the data section.
  public var dataByteCount: Int { fileSize - dataOffset }

  /// Calls `body` with the raw bytes of `tensor` (validated to lie inside the file).
  public func withTensorBytes<R>(_ tensor: GGUFTensorInfo,
                                 _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try data.withUnsafeBytes { raw in
      let start = dataOffset + tensor.offset
      return try body(UnsafeRawBufferPointer(rebasing: raw[start..<(start + tensor.byteCount)]))
    }
  }

  // MARK: - Typed metadata access

  /// The string value of `key`, when present and a string.
  public func string(_ key: String) -> String? { metadata[key]?.stringValue }
  /// The integer value of `key`, when present and an integer.
  public func int(_ key: String) -> Int? { metadata[key]?.intValue }
  /// The numeric value of `key` as a Double, when present and numeric.
  public func double(_ key: String) -> Double? { metadata[key]?.doubleValue }
  /// `general.architecture`, when present.
  public var architecture: String? { string("general.architecture") }
}

// MARK: - Parser

/// A bounds-checked little-endian cursor over the file's bytes.
private struct GGUFParser {
  struct Result {
    var version: UInt32
    var metadata: [String: GGUFValue]
    var keys: [String]
    var tensors: [GGUFTensorInfo]
    var alignment: Int
    var dataOffset: Int
  }

  let bytes: UnsafeRawBufferPointer
  var position = 0

  init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  var remaining: Int { bytes.count - position }

  mutating func need(_ n: Int, _ field: @autoclosure () -> String) throws {
    guard n <= remaining else {
      throw GGUFError(.truncated(field: field(), needed: n, available: remaining), at: position)
    }
  }

  mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws -> T {
    let size = MemoryLayout<T>.size
    try need(size, field())
    let v = bytes.loadUnaligned(fromByteOffset: position, as: T.self)
    position += size
    return T(littleEndian: v)
  }

  /// Reads a length/count field and checks it against a limit and the bytes remaining,
  /// given that each counted item needs at least `minimumItemSize` bytes.
  mutating func count(_ field: @autoclosure () -> String, limit: Int, minimumItemSize: Int) throws -> Int {
    let start = position
    let raw = try read(UInt64.self, field())
    let bound = minimumItemSize == 0 ? limit : min(limit, remaining / minimumItemSize)
    guard raw <= UInt64(bound) else {
      if raw > UInt64(limit) {
        throw GGUFError(.countOutOfRange(field: field(), value: raw, limit: UInt64(limit)), at: start)
      }
      throw GGUFError(.truncated(field: field(), needed: Int(raw) &* minimumItemSize, available: remaining),
                      at: start)
    }
    return Int(raw)
  }

  mutating func string(_ field: @autoclosure () -> String) throws -> String {
    let n = try count("length of " + field(), limit: GGUFFile.maxStringLength, minimumItemSize: 1)
    let start = position
    let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + n)])
    position += n
    guard let s = String(validating: slice.assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
      throw GGUFError(.invalidUTF8(field: field()), at: start)
    }
    return s
  }

  /// Smallest encoding of one value of type `t` (for bounding array counts).
  static func minimumSize(ofType t: UInt32) -> Int {
    switch t {
    case 0, 1, 7: return 1
    case 2, 3: return 2
    case 4, 5, 6: return 4
    case 8, 10, 11, 12: return 8
    case 9: return 12
    default: return 1
    }
  }

  mutating func value(type: UInt32, key: String, depth: Int) throws -> GGUFValue {
    let at = position
    switch type {
    case 0: return .uint8(try read(UInt8.self, "value of \(key)"))
    case 1: return .int8(try read(Int8.self, "value of \(key)"))
    case 2: return .uint16(try read(UInt16.self, "value of \(key)"))
    case 3: return .int16(try read(Int16.self, "value of \(key)"))
    case 4: return .uint32(try read(UInt32.self, "value of \(key)"))
    case 5: return .int32(try read(Int32.self, "value of \(key)"))
    case 6: return .float32(Float(bitPattern: try read(UInt32.self, "value of \(key)")))
    case 7:
      let b = try read(UInt8.self, "value of \(key)")
      guard b <= 1 else { throw GGUFError(.wrongValueType(key: key, expected: "a bool (0 or 1), got \(b)"), at: at) }
      return .bool(b == 1)
    case 8: return .string(try string("value of \(key)"))
    case 9:
      guard depth < GGUFFile.maxArrayDepth else {
        throw GGUFError(.countOutOfRange(field: "array nesting of \(key)", value: UInt64(depth + 1),
                                         limit: UInt64(GGUFFile.maxArrayDepth)), at: at)
      }
      let elementType = try read(UInt32.self, "array type of \(key)")
      guard elementType <= 12 else { throw GGUFError(.unknownValueType(key: key, type: elementType), at: at) }
      let n = try count("array count of \(key)", limit: GGUFFile.maxArrayCount,
                        minimumItemSize: Self.minimumSize(ofType: elementType))
      return .array(try array(of: elementType, count: n, key: key, depth: depth + 1))
    case 10: return .uint64(try read(UInt64.self, "value of \(key)"))
    case 11: return .int64(try read(Int64.self, "value of \(key)"))
    case 12: return .float64(Double(bitPattern: try read(UInt64.self, "value of \(key)")))
    default: throw GGUFError(.unknownValueType(key: key, type: type), at: at)
    }
  }

  /// Reads `n` elements; fixed-size numeric arrays are bounds-checked once, in bulk.
  mutating func array(of type: UInt32, count n: Int, key: String, depth: Int) throws -> [GGUFValue] {
    var out: [GGUFValue] = []
    out.reserveCapacity(n)
    if type == 8 {
      for _ in 0..<n { out.append(.string(try string("element of \(key)"))) }
      return out
    }
    for _ in 0..<n { out.append(try value(type: type, key: key, depth: depth)) }
    return out
  }

  mutating func parse() throws -> Result {
    let magic = try read(UInt32.self, "magic")
    guard magic == 0x4655_4747 else { throw GGUFError(.badMagic(found: magic), at: 0) }
    let version = try read(UInt32.self, "version")
    guard version == 2 || version == 3 else {
      let hint: String? = version > 0xFFFF ? "the file may be big-endian, which Pare does not read" : nil
      throw GGUFError(.unsupportedVersion(version, hint: hint), at: 4)
    }
    // Smallest tensor info: empty name (8) + n_dims (4) + one dim (8) + type (4) + offset (8).
    let tensorCountAt = position
    let tensorCountRaw = try read(UInt64.self, "tensor count")
    // Smallest metadata entry: empty key (8) + type (4) + one byte.
    let kvCount = try count("metadata count", limit: GGUFFile.maxMetadataCount, minimumItemSize: 13)
    guard tensorCountRaw <= UInt64(GGUFFile.maxTensorCount) else {
      throw GGUFError(.countOutOfRange(field: "tensor count", value: tensorCountRaw,
                                       limit: UInt64(GGUFFile.maxTensorCount)), at: tensorCountAt)
    }
    let tensorCount = Int(tensorCountRaw)

    var metadata: [String: GGUFValue] = [:]
    metadata.reserveCapacity(kvCount)
    var keys: [String] = []
    keys.reserveCapacity(kvCount)
    for i in 0..<kvCount {
      let keyAt = position
      let key = try string("metadata key #\(i)")
      guard metadata[key] == nil else { throw GGUFError(.duplicateKey(key), at: keyAt) }
      let type = try read(UInt32.self, "value type of \(key)")
      metadata[key] = try value(type: type, key: key, depth: 0)
      keys.append(key)
    }

    var alignment = GGUFFile.defaultAlignment
    if let a = metadata["general.alignment"] {
      guard let v = a.intValue, v > 0 else {
        throw GGUFError(.wrongValueType(key: "general.alignment", expected: "a positive integer"), at: position)
      }
      guard v & (v - 1) == 0, v <= 1 << 20 else { throw GGUFError(.badAlignment(UInt64(v)), at: position) }
      alignment = v
    }

    guard tensorCount <= remaining / 32 else {
      throw GGUFError(.truncated(field: "tensor infos (\(tensorCount) declared)", needed: tensorCount * 32,
                                 available: remaining), at: position)
    }
    var tensors: [GGUFTensorInfo] = []
    tensors.reserveCapacity(tensorCount)
    var seen: Set<String> = []
    seen.reserveCapacity(tensorCount)
    for i in 0..<tensorCount {
      let infoAt = position
      let name = try string("name of tensor #\(i)")
      guard seen.insert(name).inserted else { throw GGUFError(.duplicateTensor(name), at: infoAt) }
      let nDims = try read(UInt32.self, "dimension count of \(name)")
      guard nDims >= 1, nDims <= UInt32(GGUFFile.maxDimensions) else {
        throw GGUFError(.badShape(tensor: name, dimensions: []), at: infoAt)
      }
      var rawDims: [UInt64] = []
      for d in 0..<Int(nDims) { rawDims.append(try read(UInt64.self, "dimension \(d) of \(name)")) }
      guard rawDims.allSatisfy({ $0 >= 1 && $0 <= UInt64(Int.max) }) else {
        throw GGUFError(.badShape(tensor: name, dimensions: rawDims), at: infoAt)
      }
      let dims = rawDims.map { Int($0) }
      let typeAt = position
      let typeRaw = try read(UInt32.self, "type of \(name)")
      guard let type = GGMLType(rawValue: typeRaw) else {
        throw GGUFError(.unknownTensorType(tensor: name, type: typeRaw), at: typeAt)
      }
      let offsetAt = position
      let offset = try read(UInt64.self, "offset of \(name)")
      var elements = 1
      for d in dims {
        let (p, o) = elements.multipliedReportingOverflow(by: d)
        guard !o else { throw GGUFError(.arithmeticOverflow(field: "element count of \(name)"), at: infoAt) }
        elements = p
      }
      guard dims[0] % type.blockSize == 0 else {
        throw GGUFError(.notWholeBlocks(tensor: name, innermost: dims[0], blockSize: type.blockSize), at: infoAt)
      }
      let (byteCount, o) = (elements / type.blockSize).multipliedReportingOverflow(by: type.blockByteCount)
      guard !o else { throw GGUFError(.arithmeticOverflow(field: "byte size of \(name)"), at: infoAt) }
      guard offset % UInt64(alignment) == 0 else {
        throw GGUFError(.misalignedTensor(name: name, offset: offset, alignment: alignment), at: offsetAt)
      }
      guard offset <= UInt64(Int.max) else {
        throw GGUFError(.tensorOutOfBounds(name: name, begin: offset, byteCount: UInt64(byteCount),
                                           dataByteCount: 0), at: offsetAt)
      }
      tensors.append(GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: Int(offset),
                                    byteCount: byteCount, elementCount: elements))
    }

    // The data section starts at the next multiple of the alignment.
    let (padded, o) = position.addingReportingOverflow(alignment - 1)
    guard !o else { throw GGUFError(.arithmeticOverflow(field: "data section offset"), at: position) }
    let dataOffset = padded / alignment * alignment
    let dataByteCount = max(0, bytes.count - dataOffset)
    if !tensors.isEmpty && dataOffset > bytes.count {
      throw GGUFError(.truncated(field: "padding before the data section", needed: dataOffset - position,
                                 available: remaining), at: position)
    }
    for t in tensors {
      let (end, o) = t.offset.addingReportingOverflow(t.byteCount)
      guard !o, end <= dataByteCount else {
        throw GGUFError(.tensorOutOfBounds(name: t.name, begin: UInt64(t.offset), byteCount: UInt64(t.byteCount),
                                           dataByteCount: dataByteCount), at: dataOffset)
      }
    }
    let byOffset = tensors.sorted { ($0.offset, $0.byteCount) < ($1.offset, $1.byteCount) }
    for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.offset + a.byteCount > b.offset {
      throw GGUFError(.overlappingTensors(a.name, b.name), at: dataOffset + b.offset)
    }
    return Result(version: version, metadata: metadata, keys: keys, tensors: tensors,
                  alignment: alignment, dataOffset: dataOffset)
  }
}
