// A weight matrix kept in the element type its GGUF file stores it in, so inference reads
// the stored blocks (a Q4_0 matrix costs 4.5 bits a weight in memory, not 32).
//
// Legend: R = rows (outputs), K = columns (inputs, the innermost GGUF dimension). Each row is
// K / blockSize whole blocks of the type's layout (Files/Dequantize.swift documents them),
// rows stored one after another: row r starts at byte r · rowByteCount.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LinearAlgebra

/// A row-major (R × K) matrix whose rows are stored as blocks of a ggml type.
///
/// The bytes either live in a 64-byte-aligned allocation owned by the instance, or are
/// borrowed from a memory-mapped file that `owner` keeps mapped (a class, so the kernels can
/// hold a stable pointer for the model's lifetime; never mutated after `init`, hence
/// `@unchecked Sendable`).
public final class QuantizedMatrix: @unchecked Sendable {
  /// The stored element type; one of `QuantizedMatrix.computableTypes`.
  public let type: GGMLType
  public let rows: Int
  public let columns: Int
  /// Bytes of one row: K / blockSize · blockByteCount.
  public let rowByteCount: Int
  let base: UnsafeRawPointer
  /// Q4_0 and Q8_0: the rows regrouped 16 at a time (InterleavedQ4_0.swift,
  /// InterleavedQ8_0.swift); F32: the rows as the GEMM's packed panels (F32Panels.swift).
  /// Every product and row read of the runtime uses it; owned.
  let interleaved: UnsafeRawPointer?
  private let ownsBytes: Bool
  private let owner: AnyObject?

  /// The types the runtime computes on directly (the dot kernels of QuantizedDot.swift).
  public static let computableTypes: Set<GGMLType> = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q6_K]

  /// Copies `bytes`, the `rows · columns` elements of a matrix stored as `type`. Without
  /// `keepingRows`, a type with a layout of the runtime's own (Q4_0, Q8_0, F32) keeps only that
  /// copy, and `row(_:)` must not be used: for weights only the runtime reads (an F32 matrix
  /// widened on load would otherwise be held twice).
  /// - Precondition: `type` is computable, `columns` a multiple of its block size, and
  ///   `bytes.count == rows · columns / blockSize · blockByteCount`.
  public init(type: GGMLType, rows: Int, columns: Int, bytes: UnsafeRawBufferPointer, keepingRows: Bool = true) {
    precondition(Self.computableTypes.contains(type), "no kernel computes on \(type.name)")
    precondition(rows >= 0 && columns >= 0 && columns % type.blockSize == 0,
                 "\(rows)×\(columns) is not whole \(type.name) blocks per row")
    self.type = type
    self.rows = rows
    self.columns = columns
    rowByteCount = columns / type.blockSize * type.blockByteCount
    precondition(bytes.count == rows * rowByteCount, "\(bytes.count) bytes for a \(rows)×\(columns) \(type.name) matrix")
    ownsBytes = true
    owner = nil
    if !keepingRows, Self.layout(type, rows: rows, columns: columns) != nil, let source = bytes.baseAddress {
      interleaved = Self.interleave(type, source, rows: rows, columns: columns)
      base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))  // no rows kept
      return
    }
    let copy = UnsafeMutableRawPointer.allocate(byteCount: max(rows * rowByteCount, 1), alignment: 64)
    if let source = bytes.baseAddress, bytes.count > 0 { copy.copyMemory(from: source, byteCount: bytes.count) }
    base = UnsafeRawPointer(copy)
    interleaved = Self.interleave(type, base, rows: rows, columns: columns)
  }

  /// The runtime's own layout of a type's rows, where it has one: rows per unit (an
  /// interleaved group or an F32 panel), bytes per unit, and the writer of a range of units.
  private typealias Packer = (_ source: UnsafeRawPointer, _ units: Range<Int>, _ out: UnsafeMutableRawPointer) -> Void
  private static func layout(_ type: GGMLType, rows: Int, columns: Int) -> (unitRows: Int, unitBytes: Int, pack: Packer)? {
    let blocks = columns / 32
    switch type {
    case .q4_0:
      return (InterleavedQ4_0.groupRows, blocks * InterleavedQ4_0.groupBlockBytes,
              { InterleavedQ4_0.pack($0, rows: rows, blocks: blocks, groups: $1, into: $2) })
    case .q8_0:
      return (InterleavedQ4_0.groupRows, blocks * InterleavedQ8_0.groupBlockBytes,
              { InterleavedQ8_0.pack($0, rows: rows, blocks: blocks, groups: $1, into: $2) })
    case .f32:
      return (F32Panels.width, 4 * F32Panels.width * columns,
              { F32Panels.pack($0, rows: rows, columns: columns, panels: $1, into: $2) })
    default:
      return nil
    }
  }

  /// The rows at `base` in the runtime's layout, in a new allocation (nil for types read as
  /// stored). With `releasing`, each ~4 MB of source rows is handed back to the kernel once
  /// copied (`releasePages`), so a mapped file and its copy are never both resident.
  private static func interleave(_ type: GGMLType, _ base: UnsafeRawPointer, rows: Int, columns: Int,
                                 releasing: Bool = false) -> UnsafeRawPointer? {
    guard let (unitRows, unitBytes, pack) = layout(type, rows: rows, columns: columns) else { return nil }
    let units = (rows + unitRows - 1) / unitRows, rowBytes = columns / type.blockSize * type.blockByteCount
    let out = UnsafeMutableRawPointer.allocate(byteCount: max(units * unitBytes, 1), alignment: 64)
    let chunk = max(1, (4 << 20) / max(1, unitRows * rowBytes))
    var u = 0
    while u < units {
      let end = min(units, u + chunk)
      pack(base, u..<end, out)
      if releasing {
        let first = u * unitRows * rowBytes
        releasePages(base + first, byteCount: min(rows, end * unitRows) * rowBytes - first)
      }
      u = end
    }
    return UnsafeRawPointer(out)
  }

  /// Borrows `rows · rowByteCount` bytes at `pointer`, which must stay valid and unchanged as
  /// long as `owner` lives (a mapped file).
  init(type: GGMLType, rows: Int, columns: Int, borrowing pointer: UnsafeRawPointer, owner: AnyObject) {
    precondition(Self.computableTypes.contains(type) && columns % type.blockSize == 0)
    self.type = type
    self.rows = rows
    self.columns = columns
    rowByteCount = columns / type.blockSize * type.blockByteCount
    base = pointer
    interleaved = Self.interleave(type, pointer, rows: rows, columns: columns, releasing: true)
    ownsBytes = false
    self.owner = owner
  }

  /// Asks the kernel to reclaim the pages of `[pointer, pointer + byteCount)`, rounded out to
  /// whole pages, now that the runtime reads only its own copy of those rows.
  /// `MADV_PAGEOUT` (Linux 5.4+) drops clean file pages and never discards data (anonymous
  /// memory is swapped or stays), so a later read still sees the bytes: a page shared with
  /// rows not yet copied is simply read again; elsewhere, or where the kernel refuses,
  /// nothing happens.
  private static func releasePages(_ pointer: UnsafeRawPointer, byteCount: Int) {
    #if os(Linux)
    let page = max(1, Int(sysconf(Int32(_SC_PAGESIZE)))), madvisePageOut: Int32 = 21  // MADV_PAGEOUT
    let start = Int(bitPattern: pointer) / page * page
    let end = (Int(bitPattern: pointer) + byteCount + page - 1) / page * page
    guard end > start, let address = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(address, end - start, madvisePageOut)
    #endif
  }

  /// Stores the F32 matrix `m` as `type` with the quantisers of Files/Quantize.swift
  /// (llama.cpp's reference rounding). Used for weights of types without a kernel and by tests.
  public static func quantizing(_ m: Matrix, as type: GGMLType) -> QuantizedMatrix {
    let bytes = GGMLQuantizer.quantize(type, m.storage[...])
    return bytes.withUnsafeBytes { QuantizedMatrix(type: type, rows: m.rows, columns: m.columns, bytes: $0) }
  }

  deinit {
    if ownsBytes { UnsafeMutableRawPointer(mutating: base).deallocate() }
    interleaved.map { UnsafeMutableRawPointer(mutating: $0).deallocate() }
  }

  /// Bytes of the stored rows (the interleaved copy of a Q4_0, Q8_0 or F32 matrix holds as many
  /// again, rounded up to whole groups of 16 rows or panels of 32).
  public var byteCount: Int { rows * rowByteCount }

  /// Pointer to the first block of row `r` in the stored (row-major) layout (not for a matrix
  /// made without `keepingRows`).
  @inline(__always)
  func row(_ r: Int) -> UnsafeRawPointer { base + r * rowByteCount }

  /// Row `r` dequantised into `out` (K floats), by the reference block decoder.
  func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
    if let interleaved {
      if type == .f32 {
        F32Panels.row(interleaved.assumingMemoryBound(to: Float.self), row: r, columns: columns, into: out)
      } else if type == .q4_0 {
        InterleavedQ4_0.dequantizeRow(interleaved, row: r, blocks: columns / 32, into: out)
      } else {
        InterleavedQ8_0.dequantizeRow(interleaved, row: r, blocks: columns / 32, into: out)
      }
    } else {
      dequantizeBlocks(type, row(r), blockCount: columns / type.blockSize, into: out)
    }
  }

  /// Row `r` dequantised into `out` in registers (the same values as `dequantizeRow`).
  func unpackRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
    if interleaved != nil { dequantizeRow(r, into: out) } else { dequantizeRowVectorised(type, row(r), columns, into: out) }
  }

  /// Whether products read their input as `InterleavedQ4_0.prepare` leaves it (interleaved Q4_0).
  var needsPreparedInput: Bool { type == .q4_0 && interleaved != nil }

  /// Interleaved Q4_0 / Q8_0 rows only: the rows of `groups` (of 16) as floats, k-major, row
  /// 16(g − first) + l and column κ at `out[κ·stride + 16(g − first) + l]`.
  func unpackInterleavedColumns(groups: Range<Int>, into out: UnsafeMutablePointer<Float>, stride: Int) {
    guard let interleaved, type != .f32 else { preconditionFailure("\(type.name) rows are not interleaved in groups") }
    if type == .q4_0 {
      InterleavedQ4_0.unpackColumns(interleaved, blocks: columns / 32, groups: groups, into: out, stride: stride)
    } else {
      InterleavedQ8_0.unpackColumns(interleaved, blocks: columns / 32, groups: groups, into: out, stride: stride)
    }
  }

  /// The whole matrix dequantised to F32 (the reference the kernels are tested against).
  public func dequantized() -> Matrix {
    let count = rows * columns
    let storage = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      if let out = buffer.baseAddress {
        for r in 0..<rows { dequantizeRow(r, into: out + r * columns) }
      }
      initialized = count
    }
    return Matrix(rows: rows, columns: columns, storage: storage)
  }
}
