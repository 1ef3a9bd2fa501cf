// Writes a safetensors file: u64 header length · JSON header (padded with spaces to a
// multiple of 8, as the reference implementation does) · tensor bytes in header order.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Element type of a written tensor.
public enum StorageDType: String, Sendable, CaseIterable {
  case f32, f16, bf16
  var safetensorsName: String { rawValue.uppercased() }
  var byteSize: Int { self == .f32 ? 4 : 2 }
}

/// One tensor to write: row-major values of `shape`.
struct TensorToWrite {
  var name: String
  var shape: [Int]
  var values: [Float]
}

enum SafetensorsWriter {
  /// Writes `tensors` to `url` (which must not exist), streaming one tensor at a time.
  static func write(_ tensors: [TensorToWrite], dtype: StorageDType, to url: URL) throws {
    var members: [(key: String, value: JSONValue)] = [("__metadata__", .object([("format", .string("pt"))]))]
    var offset = 0
    for t in tensors {
      precondition(t.values.count == t.shape.reduce(1, *), "tensor \(t.name): values do not fill shape \(t.shape)")
      let n = t.values.count * dtype.byteSize
      members.append((t.name, .object([
        ("dtype", .string(dtype.safetensorsName)),
        ("shape", .array(t.shape.map { .int($0) })),
        ("data_offsets", .array([.int(offset), .int(offset + n)])),
      ])))
      offset += n
    }
    var header = Array(JSONValue.object(members).serialized(indent: 0).utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    // C stdio streams the tensors without holding the whole file in memory ("x": the file
    // must not exist yet).
    guard let stream = fopen(url.path, "wbx") else {
      throw ModelFileError.writeFailed(path: url.path, detail: "cannot create the file")
    }
    var ok = true
    var failure: Int32 = 0
    func put(_ data: Data) {
      guard ok else { return }
      ok = data.withUnsafeBytes { raw in
        raw.count == 0 || fwrite(raw.baseAddress, 1, raw.count, stream) == raw.count
      }
      if !ok { failure = errno }
    }
    put(Data(withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header))
    for t in tensors { put(encode(t.values, dtype)) }
    let flushed = fflush(stream) == 0
    if !flushed && failure == 0 { failure = errno }
    let closed = fclose(stream) == 0
    if !closed && failure == 0 { failure = errno }
    guard ok, flushed, closed else {
      let reason = failure != 0 ? String(cString: strerror(failure)) : "write error"
      throw ModelFileError.writeFailed(path: url.path, detail: reason.lowercased())
    }
  }

  /// Little-endian bytes of `values` in `dtype` (F16/BF16 rounded to nearest even).
  static func encode(_ values: [Float], _ dtype: StorageDType) -> Data {
    switch dtype {
    case .f32:
      #if _endian(big)
      return values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { Data($0) }
      #else
      return values.withUnsafeBytes { Data($0) }
      #endif
    case .f16:
      let bits = values.map { halfFromFloat($0).littleEndian }
      return bits.withUnsafeBytes { Data($0) }
    case .bf16:
      let bits = values.map { bfloat16FromFloat($0).littleEndian }
      return bits.withUnsafeBytes { Data($0) }
    }
  }
}
