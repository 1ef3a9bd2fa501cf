// Errors found while reading a GGUF file. Every case says what was expected, what was found,
// and where (`byteOffset`, counted from the start of the file).

/// A problem in a GGUF file, located at a byte offset.
public struct GGUFError: Error, Equatable, Sendable, CustomStringConvertible {
  /// What went wrong.
  public enum Kind: Equatable, Sendable {
    /// The file ends before a field that must be there.
    case truncated(field: String, needed: Int, available: Int)
    /// The first four bytes are not `GGUF`.
    case badMagic(found: UInt32)
    /// Only versions 2 and 3 are read. `hint` suggests a byte-order mismatch when huge.
    case unsupportedVersion(UInt32, hint: String?)
    /// A count or length field is larger than the file could hold, or than a named limit.
    case countOutOfRange(field: String, value: UInt64, limit: UInt64)
    /// A metadata key appears twice.
    case duplicateKey(String)
    /// A tensor name appears twice.
    case duplicateTensor(String)
    /// A metadata value type id not defined by the format.
    case unknownValueType(key: String, type: UInt32)
    /// A string that is not valid UTF-8.
    case invalidUTF8(field: String)
    /// A metadata value of the wrong type for a key whose type the format fixes.
    case wrongValueType(key: String, expected: String)
    /// `general.alignment` is zero or not a power of two.
    case badAlignment(UInt64)
    /// A tensor's ggml type id is not one this reader knows.
    case unknownTensorType(tensor: String, type: UInt32)
    /// A tensor has zero dimensions, more than four, or a zero-length dimension.
    case badShape(tensor: String, dimensions: [UInt64])
    /// The innermost dimension is not a whole number of quantisation blocks.
    case notWholeBlocks(tensor: String, innermost: Int, blockSize: Int)
    /// A tensor's offset is not a multiple of the file's alignment.
    case misalignedTensor(name: String, offset: UInt64, alignment: Int)
    /// A tensor's bytes lie (partly) outside the data section.
    case tensorOutOfBounds(name: String, begin: UInt64, byteCount: UInt64, dataByteCount: Int)
    /// Two tensors share bytes.
    case overlappingTensors(String, String)
    /// A size computation overflowed.
    case arithmeticOverflow(field: String)
    /// The tensor's type is known but cannot be converted to Float by Pare.
    case unsupportedTensorType(tensor: String, type: String)
    /// No tensor of this name in the file.
    case missingTensor(String)
  }

  public var kind: Kind
  /// Where in the file the problem was detected.
  public var byteOffset: Int

  public init(_ kind: Kind, at byteOffset: Int) {
    self.kind = kind
    self.byteOffset = byteOffset
  }

  public var description: String {
    let at = "at byte \(byteOffset)"
    switch kind {
    case let .truncated(field, needed, available):
      return "GGUF file is truncated: \(field) needs \(needed) bytes \(at) but only \(available) remain"
    case let .badMagic(found):
      return "not a GGUF file: magic is 0x\(String(found, radix: 16)), expected 0x46554747 ('GGUF')"
    case let .unsupportedVersion(v, hint):
      return "GGUF version \(v) is not supported (only 2 and 3)" + (hint.map { " (\($0))" } ?? "")
    case let .countOutOfRange(field, value, limit):
      return "GGUF \(field) is \(value) \(at), more than the limit \(limit)"
    case let .duplicateKey(key):
      return "GGUF metadata key '\(key)' appears twice (second one \(at))"
    case let .duplicateTensor(name):
      return "GGUF tensor '\(name)' appears twice (second one \(at))"
    case let .unknownValueType(key, type):
      return "GGUF metadata '\(key)' has unknown value type \(type) \(at)"
    case let .invalidUTF8(field):
      return "GGUF \(field) is not valid UTF-8 \(at)"
    case let .wrongValueType(key, expected):
      return "GGUF metadata '\(key)' should be \(expected)"
    case let .badAlignment(a):
      return "GGUF general.alignment is \(a), expected a power of two"
    case let .unknownTensorType(tensor, type):
      return "GGUF tensor '\(tensor)' has unknown ggml type \(type) \(at)"
    case let .badShape(tensor, dims):
      return "GGUF tensor '\(tensor)' has invalid dimensions \(dims) \(at)"
    case let .notWholeBlocks(tensor, innermost, blockSize):
      return "GGUF tensor '\(tensor)': innermost dimension \(innermost) is not a multiple of the block size \(blockSize)"
    case let .misalignedTensor(name, offset, alignment):
      return "GGUF tensor '\(name)' offset \(offset) is not a multiple of the alignment \(alignment)"
    case let .tensorOutOfBounds(name, begin, count, dataCount):
      return "GGUF tensor '\(name)' spans bytes \(begin)..<\(begin &+ count) of the data section, which has only \(dataCount) bytes"
    case let .overlappingTensors(a, b):
      return "GGUF tensors '\(a)' and '\(b)' overlap"
    case let .arithmeticOverflow(field):
      return "GGUF \(field) overflows \(at)"
    case let .unsupportedTensorType(tensor, type):
      return "GGUF tensor '\(tensor)' has type \(type), which Pare cannot dequantise (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)"
    case let .missingTensor(name):
      return "GGUF file has no tensor '\(name)'"
    }
  }
}
