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
    var header = GGUFHeaderBytes()
    header.emptyArrayElementType = 0
    var fields: [(String, Int)] = []
    fields.append(("magic", 0))
    header.u32(0x4655_4747)
    fields.append(("version", header.bytes.count))
    header.u32(version)
    fields.append(("tensor count", header.bytes.count))
    header.u64(UInt64(tensors.count))
    fields.append(("metadata count", header.bytes.count))
    header.u64(UInt64(metadata.count))
    for (k, v) in metadata {
      fields.append(("key length of \(k)", header.bytes.count))
      header.string(k)
      fields.append(("value type of \(k)", header.bytes.count))
      header.u32(GGUFHeaderBytes.typeID(v))
      fields.append(("value of \(k)", header.bytes.count))
      header.value(v)
    }
    var offsets: [Int] = []
    var next = 0
    for t in tensors {
      offsets.append(next)
      next += (t.bytes.count + alignment - 1) / alignment * alignment
    }
    for (t, offset) in zip(tensors, offsets) {
      fields.append(("name length of \(t.name)", header.bytes.count))
      header.string(t.name)
      fields.append(("dimension count of \(t.name)", header.bytes.count))
      header.u32(UInt32(t.dimensions.count))
      fields.append(("dimensions of \(t.name)", header.bytes.count))
      for d in t.dimensions { header.u64(UInt64(d)) }
      fields.append(("type of \(t.name)", header.bytes.count))
      header.u32(t.type.rawValue)
      fields.append(("offset of \(t.name)", header.bytes.count))
      header.u64(UInt64(offset))
    }
    fields.append(("padding", header.bytes.count))
    while header.bytes.count % alignment != 0 { header.bytes.append(0) }
    for t in tensors {
      fields.append(("data of \(t.name)", header.bytes.count))
      header.bytes.append(contentsOf: t.bytes)
      while header.bytes.count % alignment != 0 { header.bytes.append(0) }
    }
    fieldOffsets = fields
    return header.bytes
  }
}
