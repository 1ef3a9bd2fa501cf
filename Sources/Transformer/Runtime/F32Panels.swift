// F32 rows stored as the packed GEMM's B panels (issue 16; docs/RUNTIME.md "F32 panels"):
// the prefill multiplies them with no packing pass, and the decode GEMV computes 32 rows in
// the lanes of two vectors, as the interleaved Q4_0 / Q8_0 kernels do.
//
// Legend: R rows, K columns, W = gemmPanelWidth (32) rows a panel, p = panel, l = lane.
//
//   panel p  (W·K floats, at p·W·K):  column κ = the W floats at κ·W: row pW + l at lane l
//                                     (rows past R are zero)
//
//   y[pW + l] = Σ_κ panel_p[κ·W + l] · x[κ]     (four chains, one per quarter of K)

import LinearAlgebra

/// The panel layout of an F32 matrix (see the file comment).
enum F32Panels {
  static let width = 32

  /// Panels holding R rows (the last one padded with zeros).
  static func panelCount(rows: Int) -> Int { (rows + width - 1) / width }

  /// Writes panels `panels` of R row-major rows of K floats into `out`, which holds
  /// `panelCount · W · K` floats.
  static func pack(_ source: UnsafeRawPointer, rows: Int, columns k: Int, panels: Range<Int>, into out: UnsafeMutableRawPointer) {
    precondition(width == gemmPanelWidth, "F32 panels must be the GEMM's")
    let dst = out.assumingMemoryBound(to: Float.self), src = source.assumingMemoryBound(to: Float.self)
    for p in panels {
      let panel = dst + p * width * k
      for l in 0..<width {
        let r = p * width + l
        if r < rows {
          let row = src + r * k
          for c in 0..<k { panel[c * width + l] = row[c] }
        } else {
          for c in 0..<k { panel[c * width + l] = 0 }
        }
      }
    }
  }

  /// `store(r, W_r·x)` for the rows of `panels` that exist (r < rows).
  @inline(__always)
  static func product(_ w: UnsafePointer<Float>, rows: Int, columns k: Int, _ x: UnsafePointer<Float>,
                      panels: Range<Int>, store: (Int, Float) -> Void) {
    let raw = UnsafeRawPointer(w)
    @inline(__always) func lanes(_ p: Int, _ c: Int, _ half: Int) -> SIMD16<Float> {
      raw.load(fromByteOffset: 4 * (p * width * k + c * width + 16 * half), as: SIMD16<Float>.self)
    }
    // Four streams a panel (its four quarters of K at once): the row-major kernel's four rows
    // read four places of memory at a time, and one stream alone decoded ~5% slower.
    let quarter = k / 4
    for p in panels {
      var a = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
      var b = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
      for c in 0..<quarter {
        let x0 = SIMD16<Float>(repeating: x[c]), x1 = SIMD16<Float>(repeating: x[c + quarter])
        let x2 = SIMD16<Float>(repeating: x[c + 2 * quarter]), x3 = SIMD16<Float>(repeating: x[c + 3 * quarter])
        multiplyAdd(&a.0, lanes(p, c, 0), x0)
        multiplyAdd(&b.0, lanes(p, c, 1), x0)
        multiplyAdd(&a.1, lanes(p, c + quarter, 0), x1)
        multiplyAdd(&b.1, lanes(p, c + quarter, 1), x1)
        multiplyAdd(&a.2, lanes(p, c + 2 * quarter, 0), x2)
        multiplyAdd(&b.2, lanes(p, c + 2 * quarter, 1), x2)
        multiplyAdd(&a.3, lanes(p, c + 3 * quarter, 0), x3)
        multiplyAdd(&b.3, lanes(p, c + 3 * quarter, 1), x3)
      }
      for c in (4 * quarter)..<k {
        let x0 = SIMD16<Float>(repeating: x[c])
        multiplyAdd(&a.0, lanes(p, c, 0), x0)
        multiplyAdd(&b.0, lanes(p, c, 1), x0)
      }
      let low = (a.0 + a.1) + (a.2 + a.3), high = (b.0 + b.1) + (b.2 + b.3)
      for l in 0..<min(width, rows - p * width) { store(p * width + l, l < 16 ? low[l] : high[l - 16]) }
    }
  }

  /// Row r as K floats.
  static func row(_ w: UnsafePointer<Float>, row r: Int, columns k: Int, into out: UnsafeMutablePointer<Float>) {
    let panel = w + (r / width) * width * k + r % width
    for c in 0..<k { out[c] = panel[c * width] }
  }
}
