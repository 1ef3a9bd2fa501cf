// Writers: write(read(x)) == x for every valid x, and read(write(t)) == t for tensors made
// from the input. Each round trip is one entry of `roundTrips`; they all run on every input.
// To add a writer (e.g. the GGUF model exporter), append one entry.

import Foundation
@testable import Transformer

/// One round trip: throws when the input is not a valid x for it (a clean rejection),
/// calls `invariant` when what was written does not read back as what was given.
struct RoundTrip: Sendable {
  var name: String
  var run: @Sendable (Data) throws -> Void
}

let roundTrips: [RoundTrip] = [
  RoundTrip(name: "safetensors writer, tensors from the input bytes", run: safetensorsFromBytes),
  RoundTrip(name: "safetensors writer, write(read(x)) for a valid file x", run: safetensorsRewrite),
  RoundTrip(name: "GGUF encoder, write(read(x)) for a valid file x", run: ggufRewrite),
  // The GGUF model exporter (export branch): read x as a model, export, read back, compare.
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWriters(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  for trip in roundTrips {
    do { try trip.run(data) } catch {}
  }
  return 0
}

// MARK: - safetensors

let scratchFile = scratch.appendingPathComponent("written.safetensors")

/// Writes `tensors` with `dtype` and reads the file back.
func writeAndRead(_ tensors: [TensorToWrite], _ dtype: StorageDType) throws -> SafetensorsFile {
  try? FileManager.default.removeItem(at: scratchFile)
  try SafetensorsWriter.write(tensors, dtype: dtype, to: scratchFile)
  let file = try Data(contentsOf: scratchFile)
  do { return try SafetensorsFile(data: file) } catch {
    invariant(false, "the safetensors writer wrote a file its reader rejects: \(error)")
    throw error
  }
}

/// The value `x` becomes once stored as `dtype` and read back.
func stored(_ x: Float, _ dtype: StorageDType) -> Float {
  switch dtype {
  case .f32: return x
  case .f16: return floatFromHalf(halfFromFloat(x))
  case .bf16: return floatFromBFloat16(bfloat16FromFloat(x))
  }
}

func same(_ a: Float, _ b: Float) -> Bool { a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern }

/// Tensors built from the input: byte 0 picks the dtype, then per tensor a rank (0–3),
/// dimensions (0–7), a name of up to 8 bytes, and values from the following bytes.
func safetensorsFromBytes(_ data: Data) throws {
  let b = [UInt8](data)
  guard !b.isEmpty else { return }
  let dtype = StorageDType.allCases[Int(b[0]) % 3]
  var i = 1
  func next() -> UInt8 {
    defer { i += 1 }
    return i < b.count ? b[i] : 0
  }
  var tensors: [TensorToWrite] = []
  while i < b.count && tensors.count < 16 {
    let rank = Int(next() % 4)
    let shape = (0..<rank).map { _ in Int(next() % 8) }
    let nameLength = Int(next() % 9)
    let name = String(decoding: (0..<nameLength).map { _ in next() }, as: UTF8.self) + "#\(tensors.count)"
    let values = (0..<shape.reduce(1, *)).map { _ in
      Float(bitPattern: UInt32(next()) | UInt32(next()) << 8 | UInt32(next()) << 16 | UInt32(next()) << 24)
    }
    tensors.append(TensorToWrite(name: name, shape: shape, values: values))
  }
  let file = try writeAndRead(tensors, dtype)
  invariant(file.tensors.count == tensors.count, "wrote \(tensors.count) tensors, read \(file.tensors.count)")
  for t in tensors {
    guard let info = file.tensor(named: t.name) else { invariant(false, "tensor \(t.name) lost"); return }
    invariant(info.shape == t.shape && info.dtype.rawValue == dtype.safetensorsName, "tensor \(t.name) header differs")
    let back = try file.floats(named: t.name)
    invariant(zip(back, t.values).allSatisfy { same($0, stored($1, dtype)) } && back.count == t.values.count,
              "tensor \(t.name) values differ after a \(dtype) round trip")
  }
}

/// A valid safetensors file whose tensors all share one dtype Pare writes: rewriting it
/// keeps every name, shape, dtype and byte.
func safetensorsRewrite(_ data: Data) throws {
  let original = try SafetensorsFile(data: data)
  guard let first = original.tensors.first,
        let dtype = StorageDType.allCases.first(where: { $0.safetensorsName == first.dtype.rawValue }),
        original.tensors.allSatisfy({ $0.dtype == first.dtype }) else { return }
  let tensors = try original.tensors.map { TensorToWrite(name: $0.name, shape: $0.shape, values: try original.floats(named: $0.name)) }
  let file = try writeAndRead(tensors, dtype)
  invariant(file.tensors.map(\.name).sorted() == original.tensors.map(\.name).sorted(), "tensor names differ")
  for t in original.tensors {
    let info = file.tensor(named: t.name)
    invariant(info?.shape == t.shape && info?.dtype == t.dtype, "tensor \(t.name) header differs")
    // NaN payloads may be canonicalised by F16/BF16 conversion; every other value is exact.
    let a = try original.bytes(named: t.name), c = try file.bytes(named: t.name)
    if a != c {
      let x = try original.floats(named: t.name), y = try file.floats(named: t.name)
      invariant(zip(x, y).allSatisfy { same($0, $1) }, "tensor \(t.name) bytes differ after a rewrite")
    }
  }
}

// MARK: - GGUF

func same(_ a: GGUFValue, _ b: GGUFValue) -> Bool {
  switch (a, b) {
  case let (.float32(x), .float32(y)): return x.bitPattern == y.bitPattern
  case let (.float64(x), .float64(y)): return x.bitPattern == y.bitPattern
  case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
  default: return a == b
  }
}

/// A valid GGUF file re-encoded with GGUFEncoder (same metadata in order, tensors, alignment,
/// version) reads back identical.
func ggufRewrite(_ data: Data) throws {
  let original = try GGUFFile(data: data)
  var encoder = GGUFEncoder()
  encoder.version = original.version
  encoder.alignment = original.alignment
  encoder.metadata = original.metadataKeys.map { ($0, original.metadata[$0]!) }
  encoder.tensors = original.tensors.map { t in
    GGUFEncoder.Tensor(name: t.name, dimensions: t.dimensions, type: t.type,
                       bytes: original.withTensorBytes(t) { [UInt8]($0) })
  }
  // The encoder lays tensors out in file order; a file that orders its data differently is
  // still valid but re-encodes to other offsets, which is fine: compare contents only.
  let bytes = encoder.encode()
  let back: GGUFFile
  do { back = try GGUFFile(data: Data(bytes)) } catch {
    invariant(false, "GGUFEncoder wrote a file the reader rejects: \(error)")
    return
  }
  invariant(back.version == original.version && back.alignment == original.alignment, "version or alignment differ")
  invariant(back.metadataKeys == original.metadataKeys, "metadata keys differ")
  for k in original.metadataKeys {
    invariant(same(back.metadata[k]!, original.metadata[k]!), "metadata \(k) differs")
  }
  invariant(back.tensors.count == original.tensors.count, "tensor count differs")
  for (t, u) in zip(original.tensors, back.tensors) {
    invariant(t.name == u.name && t.dimensions == u.dimensions && t.type == u.type, "tensor \(t.name) info differs")
    invariant(original.withTensorBytes(t) { [UInt8]($0) } == back.withTensorBytes(u) { [UInt8]($0) },
              "tensor \(t.name) bytes differ")
  }
}

func setUp() { _ = (roundTrips.count, scratchFile) }
