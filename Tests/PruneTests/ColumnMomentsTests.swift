import Testing
import LinearAlgebra
@testable import Prune

@Suite("ColumnMoments")
struct ColumnMomentsTests {
  @Test("moments over a row prefix equal a naive Double loop, whatever the column blocking", arguments: [3, 200])
  func rowPrefix(width: Int) {
    var rng = SplitMix64(seed: UInt64(width))
    let x = Matrix.random(rows: 40, columns: width, using: &rng)
    let m = ColumnMoments(of: x, rows: 25)
    var sums = [Double](repeating: 0, count: width), squares = sums
    for t in 0..<25 {
      for j in 0..<width { sums[j] += Double(x[t, j]); squares[j] += Double(x[t, j]) * Double(x[t, j]) }
    }
    #expect(m.count == 25 && m.sums == sums && m.sumSquares == squares)
    #expect(ColumnMoments(of: x, rows: 99).count == 40)
    #expect(ColumnMoments(of: x, rows: 0).count == 0 && ColumnMoments(of: x, rows: 0).sums.allSatisfy { $0 == 0 })
  }
}
