// safetensors reader. Layout:
//
//   header length N: u64 little-endian · N bytes of UTF-8 JSON · data section
//   JSON: { "NAME": {"dtype": "F32", "shape": [d0, d1, …], "data_offsets": [begin, end]}, …,
//           "__metadata__": {"key": "value", …} }      offsets relative to the data section
//
// The whole header is validated (types, dtypes, shape × dtype size = end − begin with
// overflow checks, offsets inside the data, no overlaps) before any tensor byte is touched.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinearAlgebra

/// Element types defined by the safetensors format.
public enum SafetensorsDType: String, Sendable, CaseIterable {
  case bool = "BOOL", u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
  case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
  case i32 = "I32", u32 = "U32", f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64"

  /// Bytes per element.
  public var byteSize: Int {
    switch self {
    case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
    case .i16, .u16, .f16, .bf16: return 2
    case .i32, .u32, .f32: return 4
    case .f64, .i64, .u64: return 8
    }
  }

  /// True for the types Pare converts to Float.
  public var isFloatReadable: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

/// One tensor entry of a safetensors header.
public struct SafetensorsTensorInfo: Sendable, Equatable {
  public var name: String
  public var dtype: SafetensorsDType
  /// Row-major shape, outermost first. Empty for a scalar.
  public var shape: [Int]
  /// Byte range inside the data section.
  public var begin: Int
  public var end: Int
  public var elementCount: Int { shape.reduce(1, *) }
}

/// A validated, memory-mapped safetensors file.
public struct SafetensorsFile: Sendable {
  /// Largest header accepted (the reference implementation's limit).
  public static let maxHeaderByteCount = 100_000_000
  /// Most tensors accepted in one file.
  public static let maxTensorCount = 1 << 20
  /// Most dimensions of one tensor.
  public static let maxDimensions = 8

  /// Tensors in header order.
  public let tensors: [SafetensorsTensorInfo]
  /// The `__metadata__` string map (empty when absent).
  public let metadata: [String: String]
  /// Byte offset of the data section (8 + header length).
  public let dataOffset: Int
  public let fileSize: Int
  private let data: Data
  private let index: [String: Int]

  /// Maps and validates a safetensors file.
  /// - Throws: `SafetensorsError` for any malformed field; Foundation's error if unreadable.
  public init(contentsOf url: URL) throws {
    try self.init(data: try Data(readingFile: url, options: .alwaysMapped))
  }

  /// Validates safetensors bytes.
  public init(data: Data) throws(SafetensorsError) {
    self.data = data
    fileSize = data.count
    guard data.count >= 8 else { throw .fileTooSmall(byteCount: data.count) }
    let declared = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    guard declared <= UInt64(Self.maxHeaderByteCount), declared <= UInt64(data.count - 8) else {
      throw .headerTooLarge(declared: declared, limit: Self.maxHeaderByteCount, fileByteCount: data.count)
    }
    let headerLength = Int(declared)
    dataOffset = 8 + headerLength
    let dataByteCount = data.count - dataOffset
    let header: JSONValue
    do {
      header = try JSONValue.parse(data[data.startIndex + 8..<data.startIndex + dataOffset])
    } catch {
      throw .headerNotJSON(detail: error.description)
    }
    guard let members = header.objectValue else { throw .headerNotJSON(detail: "the header is not a JSON object") }
    guard members.count <= Self.maxTensorCount + 1 else {
      throw .tooManyTensors(count: members.count, limit: Self.maxTensorCount)
    }
    var tensors: [SafetensorsTensorInfo] = []
    var metadata: [String: String] = [:]
    for (name, value) in members {
      if name == "__metadata__" {
        guard let entries = value.objectValue else { throw .badEntry(tensor: name, detail: "must be an object") }
        for (k, v) in entries {
          guard let s = v.stringValue else { throw .badEntry(tensor: name, detail: "value of '\(k)' is not a string") }
          metadata[k] = s
        }
        continue
      }
      tensors.append(try Self.entry(name: name, value: value, dataByteCount: dataByteCount))
    }
    let sorted = tensors.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
    for (a, b) in zip(sorted, sorted.dropFirst()) where a.end > b.begin {
      throw .overlappingTensors(a.name, b.name)
    }
    self.tensors = tensors
    self.metadata = metadata
    var index: [String: Int] = [:]
    for (i, t) in tensors.enumerated() { index[t.name] = i }
    self.index = index
  }

  private static func entry(name: String, value: JSONValue,
                            dataByteCount: Int) throws(SafetensorsError) -> SafetensorsTensorInfo {
    guard value.objectValue != nil else { throw .badEntry(tensor: name, detail: "must be an object") }
    guard let dtypeName = value["dtype"]?.stringValue else {
      throw .badEntry(tensor: name, detail: "missing string field 'dtype'")
    }
    guard let dtype = SafetensorsDType(rawValue: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName) }
    guard let shapeItems = value["shape"]?.arrayValue, shapeItems.count <= maxDimensions else {
      throw .badEntry(tensor: name, detail: "'shape' must be an array of at most \(maxDimensions) integers")
    }
    var shape: [Int] = []
    for item in shapeItems {
      guard case let .int(d) = item, d >= 0 else {
        throw .badEntry(tensor: name, detail: "'shape' must hold non-negative integers")
      }
      shape.append(d)
    }
    guard let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
          case let .int(begin) = offsets[0], case let .int(end) = offsets[1] else {
      throw .badEntry(tensor: name, detail: "'data_offsets' must be two integers")
    }
    guard begin >= 0, begin <= end, end <= dataByteCount else {
      throw .offsetsOutOfBounds(tensor: name, begin: begin, end: end, dataByteCount: dataByteCount)
    }
    var bytes = dtype.byteSize
    for d in shape {
      let (p, o) = bytes.multipliedReportingOverflow(by: d)
      guard !o else { throw .arithmeticOverflow(tensor: name) }
      bytes = p
    }
    guard bytes == end - begin else {
      throw .sizeMismatch(tensor: name, shape: shape, dtype: dtype.rawValue, byteCount: end - begin)
    }
    return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
  }

  /// The entry for `name`, if present.
  public func tensor(named name: String) -> SafetensorsTensorInfo? { index[name].map { tensors[$0] } }

  /// The tensor's elements as Float (row-major).
  /// - Throws: `missingTensor`, or `unsupportedDType` for non-float types.
  public func floats(named name: String) throws(SafetensorsError) -> [Float] {
    guard let t = tensor(named: name) else { throw .missingTensor(name) }
    let type: GGMLType
    switch t.dtype {
    case .f32: type = .f32
    case .f16: type = .f16
    case .bf16: type = .bf16
    default: throw .unsupportedDType(tensor: name, dtype: t.dtype.rawValue)
    }
    let start = dataOffset + t.begin, end = dataOffset + t.end
    return data.withUnsafeBytes { raw in
      dequantize(type, bytes: UnsafeRawBufferPointer(rebasing: raw[start..<end]), elementCount: t.elementCount)
    }
  }

  /// Raw bytes of a tensor (for bit-exact comparisons).
  public func bytes(named name: String) throws(SafetensorsError) -> [UInt8] {
    guard let t = tensor(named: name) else { throw .missingTensor(name) }
    return [UInt8](data[(data.startIndex + dataOffset + t.begin)..<(data.startIndex + dataOffset + t.end)])
  }
}
