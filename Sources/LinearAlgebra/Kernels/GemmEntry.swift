// Matrix-level entry points of the GEMM kernels: take the pointers, choose the path.
//
// Paths: M < gemmSmallM → one dot product (Bᵀ) or one row update (B) per output row,
//        parallel over column blocks (decoding: memory-bound, no packing);
//        otherwise the packed kernel (Gemm.swift).
// The two paths sum over K in different orders, so a row of C can differ in the last bits
// between an M=1 and an M=64 call; within one path, results never depend on thread count.

/// Below this many rows of A the unpacked small-M path is used.
let gemmSmallM = 4

/// `C = A·op(B) (+ bias)` or `C += …`; shapes already checked by the caller.
func gemmMatrices(_ a: Matrix, transposeA: Bool, _ b: Matrix, transposeB: Bool,
                  bias: [Float]?, into c: inout Matrix, accumulate: Bool, upperOnly: Bool = false) {
  let m = c.rows, n = c.columns
  let k = transposeA ? a.rows : a.columns
  if m == 0 || n == 0 { return }
  a.storage.withUnsafeBufferPointer { aBuf in
    b.storage.withUnsafeBufferPointer { bBuf in
      c.storage.withUnsafeMutableBufferPointer { cBuf in
        withOptionalPointer(bias) { biasPointer in
          // Empty storages may have no base address; use a dummy that is never read.
          let dummy = UnsafePointer<Float>(bitPattern: 64)!
          let aBase = aBuf.baseAddress ?? dummy, bBase = bBuf.baseAddress ?? dummy
          guard let cBase = cBuf.baseAddress else { return }
          if !transposeA && m < gemmSmallM && k > 0 {
            if transposeB {
              gemmSmallTransposed(m: m, n: n, k: k, a: aBase, b: bBase, c: cBase,
                                  accumulate: accumulate, bias: biasPointer)
            } else {
              gemmSmallPlain(m: m, n: n, k: k, a: aBase, b: bBase, c: cBase,
                             accumulate: accumulate, bias: biasPointer)
            }
            return
          }
          let opA = transposeA
            ? StridedOperand(base: aBase, rowStride: 1, columnStride: a.columns)
            : StridedOperand(base: aBase, rowStride: a.columns, columnStride: 1)
          let opB = transposeB
            ? StridedOperand(base: bBase, rowStride: 1, columnStride: b.columns)
            : StridedOperand(base: bBase, rowStride: b.columns, columnStride: 1)
          gemmPacked(m: m, n: n, k: k, a: opA, b: opB, c: cBase, ldc: n,
                     accumulate: accumulate, bias: biasPointer, upperOnly: upperOnly)
        }
      }
    }
  }
}

/// `C[0..<K, 0..<N] += AᵀB` for A (T×K) and B (T×N) into the top-left block of a C with at
/// least K rows and N columns (its row stride stays `c.columns`): the packed kernel, as
/// `gemmMatrices(a, transposeA: true, b, …)` runs it on a K×N C.
func accumulateTransposedProduct(_ a: Matrix, _ b: Matrix, intoTopLeftOf c: inout Matrix, upperOnly: Bool) {
  let m = a.columns, n = b.columns, k = a.rows
  precondition(b.rows == k && c.rows >= m && c.columns >= n, "AᵀB: A \(a.shape), B \(b.shape), C \(c.shape)")
  if m == 0 || n == 0 { return }
  let ldc = c.columns
  a.storage.withUnsafeBufferPointer { aBuf in
    b.storage.withUnsafeBufferPointer { bBuf in
      c.storage.withUnsafeMutableBufferPointer { cBuf in
        let dummy = UnsafePointer<Float>(bitPattern: 64)!  // empty storages (k = 0): never read
        gemmPacked(m: m, n: n, k: k, a: StridedOperand(base: aBuf.baseAddress ?? dummy, rowStride: 1, columnStride: m),
                   b: StridedOperand(base: bBuf.baseAddress ?? dummy, rowStride: n, columnStride: 1),
                   c: cBuf.baseAddress!, ldc: ldc, accumulate: true, bias: nil, upperOnly: upperOnly)
      }
    }
  }
}

@inline(__always)
private func withOptionalPointer<R>(_ x: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
  guard let x else { return body(nil) }
  return x.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// Copies the upper triangle of the square matrix `g` onto its lower triangle.
func mirrorUpperToLower(_ g: inout Matrix) {
  let n = g.rows
  g.storage.withUnsafeMutableBufferPointer { buf in
    guard let p = buf.baseAddress else { return }
    // Blocked so both the read (column) and write (row) sides stay in cache.
    let bs = 64
    for ib in stride(from: 0, to: n, by: bs) {
      for jb in stride(from: 0, through: ib, by: bs) {
        for i in ib..<min(n, ib + bs) {
          for j in jb..<min(i, jb + bs) { p[i * n + j] = p[j * n + i] }
        }
      }
    }
  }
}

/// Whether the square matrix `g` equals its transpose exactly.
func isExactlySymmetric(_ g: Matrix) -> Bool {
  let n = g.rows
  return g.storage.withUnsafeBufferPointer { p in
    for i in 0..<n { for j in 0..<i where p[i * n + j] != p[j * n + i] { return false } }
    return true
  }
}

/// Writes `t = aᵀ` in 32×32 blocks (both sides cache friendly).
func transposeKernel(_ a: Matrix, into t: inout Matrix) {
  let rows = a.rows, cols = a.columns
  a.storage.withUnsafeBufferPointer { src in
    t.storage.withUnsafeMutableBufferPointer { dst in
      let bs = 32
      for rb in stride(from: 0, to: rows, by: bs) {
        for cb in stride(from: 0, to: cols, by: bs) {
          for r in rb..<min(rows, rb + bs) {
            for c in cb..<min(cols, cb + bs) { dst[c * rows + r] = src[r * cols + c] }
          }
        }
      }
    }
  }
}

/// A `rows × columns` matrix whose elements are not initialised, for outputs the GEMM
/// overwrites entirely (`accumulate == false`). Skipping the zero fill matters for large
/// outputs (the 2048 × 49152 logits: 400 MB): the pages are then first touched by the
/// parallel kernel instead of a serial memset.
func matrixForOverwrite(rows: Int, columns: Int) -> Matrix {
  let count = rows * columns
  let storage = [Float](unsafeUninitializedCapacity: count) { _, initialized in
    initialized = count  // Float is trivial; every element is written by the caller
  }
  return Matrix(rows: rows, columns: columns, storage: storage)
}
