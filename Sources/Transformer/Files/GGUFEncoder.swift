// Writes GGUF bytes (version 3). Pare itself writes safetensors folders; this encoder exists
// so tests can build small valid GGUF files, and hostile variants of them, without Python.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Builds a GGUF v3 file from metadata entries and raw tensor bytes.
public struct GGUFEncoder: Sendable {
  /// One tensor to store: ggml-order dimensions (innermost first), type and its raw bytes.
  public struct Tensor: Sendable {
    public var name: String
    public var dimensions: [Int]
    public var type: GGMLType
    public var bytes: [UInt8]
    public init(name: String, dimensions: [Int], type: GGMLType, bytes: [UInt8]) {
      self.name = name
      self.dimensions = dimensions
      self.type = type
      self.bytes = bytes
    }
  }

  public var metadata: [(String, GGUFValue)] = []
  public var tensors: [Tensor] = []
  public var alignment = GGUFFile.defaultAlignment
  public var version: UInt32 = 3

  public init() {}

  /// Byte ranges of the structural fields of the last encoding, for tests that cut or
  /// corrupt a file at precise places: (field description, offset of the field's first byte).
  public private(set) var fieldOffsets: [(String, Int)] = []

  /// The file's bytes. Tensors are laid out in order, each padded to the alignment.
  public mutating func encode() -> [UInt8] {
    var out: [UInt8] = []
    var fields: [(String, Int)] = []
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    func str(_ s: String) { u64(UInt64(s.utf8.count)); out.append(contentsOf: s.utf8) }
    func typeID(_ v: GGUFValue) -> UInt32 {
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
    func value(_ v: GGUFValue) {
      switch v {
      case let .uint8(x): out.append(x)
      case let .int8(x): out.append(UInt8(bitPattern: x))
      case let .uint16(x): withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) }
      case let .int16(x): withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) }
      case let .uint32(x): u32(x)
      case let .int32(x): u32(UInt32(bitPattern: x))
      case let .float32(x): u32(x.bitPattern)
      case let .bool(x): out.append(x ? 1 : 0)
      case let .string(s): str(s)
      case let .array(a):
        u32(a.first.map(typeID) ?? 0)
        u64(UInt64(a.count))
        for e in a { value(e) }
      case let .uint64(x): u64(x)
      case let .int64(x): u64(UInt64(bitPattern: x))
      case let .float64(x): u64(x.bitPattern)
      }
    }
    fields.append(("magic", 0))
    u32(0x4655_4747)
    fields.append(("version", out.count))
    u32(version)
    fields.append(("tensor count", out.count))
    u64(UInt64(tensors.count))
    fields.append(("metadata count", out.count))
    u64(UInt64(metadata.count))
    for (k, v) in metadata {
      fields.append(("key length of \(k)", out.count))
      str(k)
      fields.append(("value type of \(k)", out.count))
      u32(typeID(v))
      fields.append(("value of \(k)", out.count))
      value(v)
    }
    var offsets: [Int] = []
    var next = 0
    for t in tensors {
      offsets.append(next)
      next += (t.bytes.count + alignment - 1) / alignment * alignment
    }
    for (t, offset) in zip(tensors, offsets) {
      fields.append(("name length of \(t.name)", out.count))
      str(t.name)
      fields.append(("dimension count of \(t.name)", out.count))
      u32(UInt32(t.dimensions.count))
      fields.append(("dimensions of \(t.name)", out.count))
      for d in t.dimensions { u64(UInt64(d)) }
      fields.append(("type of \(t.name)", out.count))
      u32(t.type.rawValue)
      fields.append(("offset of \(t.name)", out.count))
      u64(UInt64(offset))
    }
    fields.append(("padding", out.count))
    while out.count % alignment != 0 { out.append(0) }
    for t in tensors {
      fields.append(("data of \(t.name)", out.count))
      out.append(contentsOf: t.bytes)
      while out.count % alignment != 0 { out.append(0) }
    }
    fieldOffsets = fields
    return out
  }
}
