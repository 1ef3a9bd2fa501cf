// Copies and reductions over whole calibration blocks (tens of MB each): row and column
// selection, the intercept column, per-column moments and squared errors. The pruning
// pipeline runs them on every block, so they are split across cores in blocks whose size
// depends on the shape only; every output element gets the same arithmetic in the same
// order as a serial loop.

/// Row blocks for `count` items of `width` floats: one block per ~64 K floats, at most 16.
@inline(__always)
private func blockCount(_ count: Int, width: Int) -> Int {
  max(1, min(16, count * max(width, 1) / (1 << 16)))
}

/// A new `m × k` array whose row i `fill(destination, source, i)` writes in full.
private func gathered(_ source: [Float], rows m: Int, columns k: Int,
                      _ fill: @Sendable (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void) -> [Float] {
  guard m > 0 && k > 0 else { return [] }
  return [Float](unsafeUninitializedCapacity: m * k) { buffer, initialized in
    source.withPointer { src, _ in
      nonisolated(unsafe) let (dst, s) = (buffer.baseAddress!, src)
      let blocks = blockCount(m, width: k)
      parallelFor(tasks: blocks) { b in
        for i in (m * b / blocks)..<(m * (b + 1) / blocks) { fill(dst, s, i) }
      }
    }
    initialized = m * k
  }
}

/// The rows `picked` of a row-major matrix with `n` columns, in that order.
func gatherRowsKernel(_ source: [Float], columns n: Int, rows picked: [Int]) -> [Float] {
  gathered(source, rows: picked.count, columns: n) { dst, src, i in
    (dst + i * n).initialize(from: src + picked[i] * n, count: n)
  }
}

/// The columns `picked` of a row-major `m × n` matrix, in that order.
func gatherColumnsKernel(_ source: [Float], rows m: Int, columns n: Int, picking picked: [Int]) -> [Float] {
  let k = picked.count
  return gathered(source, rows: m, columns: k) { dst, src, r in
    let (d, s) = (dst + r * k, src + r * n)
    for j in 0..<k { d[j] = s[picked[j]] }
  }
}

/// `[X 1]` for a row-major `m × n` matrix X.
func appendOnesKernel(_ source: [Float], rows m: Int, columns n: Int) -> [Float] {
  gathered(source, rows: m, columns: n + 1) { dst, src, r in
    (dst + r * (n + 1)).initialize(from: src + r * n, count: n)
    dst[r * (n + 1) + n] = 1
  }
}

/// `sums[j] += Σ_t x[t, j]`, `squares[j] += Σ_t x[t, j]²` over the first `rows` rows, in
/// Double, each column in row order; columns are split across cores.
func columnMomentsKernel(_ x: [Float], rows: Int, columns w: Int, sums: inout [Double], squares: inout [Double]) {
  squares.withUnsafeMutableBufferPointer { q in
    columnPass(x, rows: rows, columns: w, sums: &sums, squares: q.baseAddress)
  }
}

/// `sums[j] += Σ_t x[t, j]` over the first `rows` rows, in Double, each column in row order.
func columnSumsKernel(_ x: [Float], rows: Int, columns w: Int, sums: inout [Double]) {
  columnPass(x, rows: rows, columns: w, sums: &sums, squares: nil)
}

/// One pass down the columns, split across cores in fixed column blocks (so the sums do not
/// depend on the thread count): sums, and sums of squares when `squares` is given.
private func columnPass(_ x: [Float], rows: Int, columns w: Int, sums: inout [Double],
                        squares: UnsafeMutablePointer<Double>?) {
  guard rows > 0 && w > 0 else { return }
  let blocks = max(1, min(16, w / 64))
  sums.withUnsafeMutableBufferPointer { s in
    x.withPointer { p, _ in
      nonisolated(unsafe) let (sp, qp, xp) = (s.baseAddress!, squares, p)
      parallelFor(tasks: blocks) { b in
        let j0 = w * b / blocks, j1 = w * (b + 1) / blocks
        if let qp {
          for t in 0..<rows {
            let row = xp + t * w
            for j in j0..<j1 {
              let v = Double(row[j])
              sp[j] += v
              qp[j] += v * v
            }
          }
        } else {
          for t in 0..<rows {
            let row = xp + t * w
            for j in j0..<j1 { sp[j] += Double(row[j]) }
          }
        }
      }
    }
  }
}

/// `(Σ (a − b)², Σ b²)` in Double (differences in Float), as partial sums over 16 fixed
/// element blocks added in order, so the result does not depend on the thread count.
func squaredErrorSumsKernel(_ a: [Float], _ b: [Float]) -> (Double, Double) {
  let n = a.count, blocks = 16
  var partial = [Double](repeating: 0, count: 2 * blocks)
  partial.withUnsafeMutableBufferPointer { out in
    a.withPointer { pa, _ in
      b.withPointer { pb, _ in
        nonisolated(unsafe) let (o, x, y) = (out.baseAddress!, pa, pb)
        parallelFor(tasks: n < 1 << 16 ? 1 : blocks) { task in
          let range = n < 1 << 16 ? 0..<n : (n * task / blocks)..<(n * (task + 1) / blocks)
          var num = 0.0, den = 0.0
          for i in range {
            let d = Double(x[i] - y[i]), v = Double(y[i])
            num += d * d
            den += v * v
          }
          (o[2 * task], o[2 * task + 1]) = (num, den)
        }
      }
    }
  }
  var num = 0.0, den = 0.0
  for t in 0..<blocks { num += partial[2 * t]; den += partial[2 * t + 1] }
  return (num, den)
}
