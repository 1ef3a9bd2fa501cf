// Matrix: the one dense storage type of Pare.
//
// Row-major `Float`, value semantics through `Array`'s copy-on-write: copying a Matrix is
// O(1) until one copy is written, and then that copy pays for a full duplicate. Kernels read
// and write `storage` through pointers inside `Kernels/` only.

/// A dense row-major matrix of `Float` with value semantics (copy-on-write through `Array`).
///
/// Element (r, c) lives at `storage[r * columns + c]`. Empty shapes (0 × n, n × 0) are valid.
public struct Matrix: Sendable, Equatable {
  /// Number of rows.
  public private(set) var rows: Int
  /// Number of columns.
  public private(set) var columns: Int
  /// The elements, row after row. `storage.count == rows * columns` always.
  public var storage: [Float] {
    didSet { precondition(storage.count == rows * columns, "Matrix storage resized to \(storage.count), shape is \(rows)×\(columns)") }
  }

  /// A `rows × columns` matrix filled with `value` (zero by default).
  public init(rows: Int, columns: Int, repeating value: Float = 0) {
    precondition(rows >= 0 && columns >= 0, "negative shape \(rows)×\(columns)")
    self.rows = rows
    self.columns = columns
    self.storage = [Float](repeating: value, count: rows * columns)
  }

  /// Wraps existing row-major elements. `storage.count` must equal `rows * columns`.
  public init(rows: Int, columns: Int, storage: [Float]) {
    precondition(rows >= 0 && columns >= 0, "negative shape \(rows)×\(columns)")
    precondition(storage.count == rows * columns, "\(storage.count) elements for a \(rows)×\(columns) matrix")
    self.rows = rows
    self.columns = columns
    self.storage = storage
  }

  /// Builds a matrix from a list of equally long rows.
  public init(_ rowList: [[Float]]) {
    let columns = rowList.first?.count ?? 0
    precondition(rowList.allSatisfy { $0.count == columns }, "ragged rows")
    self.init(rows: rowList.count, columns: columns, storage: rowList.flatMap { $0 })
  }

  /// The shape as `[rows, columns]`, the form errors carry.
  public var shape: [Int] { [rows, columns] }

  public subscript(row: Int, column: Int) -> Float {
    get { storage[row * columns + column] }
    set { storage[row * columns + column] = newValue }
  }

  /// A copy of row `r`.
  public func row(_ r: Int) -> [Float] {
    Array(storage[(r * columns)..<((r + 1) * columns)])
  }

  /// The transpose, `columns × rows`.
  public func transposed() -> Matrix {
    var t = Matrix(rows: columns, columns: rows)
    transpose(self, into: &t)
    return t
  }

  /// The rows whose indices are listed, in that order.
  public func selectingRows(_ indices: [Int]) -> Matrix {
    let n = columns
    for r in indices { precondition(r >= 0 && r < rows, "selectingRows: row \(r) of \(rows)") }
    return Matrix(rows: indices.count, columns: n, storage: gatherRowsKernel(storage, columns: n, rows: indices))
  }

  /// The columns whose indices are listed, in that order.
  public func selectingColumns(_ indices: [Int]) -> Matrix {
    let (n, k) = (columns, indices.count)
    for c in indices { precondition(c >= 0 && c < n, "selectingColumns: column \(c) of \(n)") }
    return Matrix(rows: rows, columns: k, storage: gatherColumnsKernel(storage, rows: rows, columns: n, picking: indices))
  }

  /// A matrix of independent uniform values in `-scale ... scale`, reproducible from `rng`.
  public static func random(rows: Int, columns: Int, scale: Float = 1,
                            using rng: inout SplitMix64) -> Matrix {
    var m = Matrix(rows: rows, columns: columns)
    for i in 0..<m.storage.count { m.storage[i] = rng.nextFloat(in: -scale...scale) }
    return m
  }
}
