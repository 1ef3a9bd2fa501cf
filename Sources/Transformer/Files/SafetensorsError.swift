// Errors found while reading safetensors files and their sharded index.

/// A problem in a safetensors file (or its `model.safetensors.index.json`).
public enum SafetensorsError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Fewer than the 8 bytes of the header length.
  case fileTooSmall(byteCount: Int)
  /// The declared header length exceeds the limit or the file.
  case headerTooLarge(declared: UInt64, limit: Int, fileByteCount: Int)
  /// The header is not UTF-8 JSON, or not the expected structure.
  case headerNotJSON(detail: String)
  /// A tensor entry lacks a field or has one of the wrong type.
  case badEntry(tensor: String, detail: String)
  /// A dtype string not defined by the format.
  case unknownDType(tensor: String, dtype: String)
  /// A defined dtype Pare cannot convert to Float.
  case unsupportedDType(tensor: String, dtype: String)
  /// A tensor's byte range is reversed or lies outside the data.
  case offsetsOutOfBounds(tensor: String, begin: Int, end: Int, dataByteCount: Int)
  /// Two tensors share bytes.
  case overlappingTensors(String, String)
  /// shape × dtype size differs from the stored byte count.
  case sizeMismatch(tensor: String, shape: [Int], dtype: String, byteCount: Int)
  /// A size computation overflowed.
  case arithmeticOverflow(tensor: String)
  /// More tensors than the named limit.
  case tooManyTensors(count: Int, limit: Int)
  /// No tensor of this name.
  case missingTensor(String)
  /// The sharded index is malformed.
  case badIndex(detail: String)
  /// The same tensor name in two shards.
  case duplicateTensor(name: String, files: [String])

  public var description: String {
    switch self {
    case let .fileTooSmall(n):
      return "safetensors file has \(n) bytes, fewer than the 8-byte header length"
    case let .headerTooLarge(declared, limit, size):
      return "safetensors header length \(declared) exceeds the file (\(size) bytes) or the limit \(limit)"
    case let .headerNotJSON(detail):
      return "safetensors header is not valid JSON: \(detail)"
    case let .badEntry(tensor, detail):
      return "safetensors entry '\(tensor)': \(detail)"
    case let .unknownDType(tensor, dtype):
      return "safetensors tensor '\(tensor)' has unknown dtype '\(dtype)'"
    case let .unsupportedDType(tensor, dtype):
      return "safetensors tensor '\(tensor)' has dtype \(dtype), which Pare cannot read as Float (supported: F32, F16, BF16)"
    case let .offsetsOutOfBounds(tensor, begin, end, count):
      return "safetensors tensor '\(tensor)' has data_offsets [\(begin), \(end)] outside the \(count)-byte data section"
    case let .overlappingTensors(a, b):
      return "safetensors tensors '\(a)' and '\(b)' overlap"
    case let .sizeMismatch(tensor, shape, dtype, n):
      return "safetensors tensor '\(tensor)' of shape \(shape) and dtype \(dtype) cannot occupy \(n) bytes"
    case let .arithmeticOverflow(tensor):
      return "safetensors tensor '\(tensor)': size computation overflows"
    case let .tooManyTensors(count, limit):
      return "safetensors header declares \(count) tensors, more than the limit \(limit)"
    case let .missingTensor(name):
      return "no tensor '\(name)' in the safetensors file(s)"
    case let .badIndex(detail):
      return "model.safetensors.index.json: \(detail)"
    case let .duplicateTensor(name, files):
      return "tensor '\(name)' appears in several shards: \(files.joined(separator: ", "))"
    }
  }
}
