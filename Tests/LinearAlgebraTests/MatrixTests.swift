import Testing
import LinearAlgebra

@Suite("Matrix")
struct MatrixTests {
  @Test("row-major indexing, transpose and selection")
  func layout() {
    let m = Matrix([[1, 2, 3], [4, 5, 6]])
    #expect(m[1, 0] == 4)
    #expect(m.transposed() == Matrix([[1, 4], [2, 5], [3, 6]]))
    #expect(m.selectingRows([1]) == Matrix([[4, 5, 6]]))
    #expect(m.selectingColumns([2, 0]) == Matrix([[3, 1], [6, 4]]))
    #expect(Matrix(rows: 0, columns: 5).transposed().shape == [5, 0])
  }

  @Test("SplitMix64 is reproducible and matches the published first output for seed 0")
  func splitMix() {
    var a = SplitMix64(seed: 0)
    // Reference value of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
    #expect(a.next() == 0xE220_A839_7B1D_CDAF)
    var b = SplitMix64(seed: 42), c = SplitMix64(seed: 42)
    #expect((0..<10).map { _ in b.next() } == (0..<10).map { _ in c.next() })
  }

  @Test("appendingOnesColumn copies every row and appends a 1, across thread blocks", arguments: [0, 1, 7, 1_000])
  func onesColumn(rows: Int) {
    var rng = SplitMix64(seed: UInt64(rows))
    let x = Matrix.random(rows: rows, columns: 5, using: &rng)
    let y = x.appendingOnesColumn()
    #expect(y.shape == [rows, 6])
    for r in 0..<rows {
      #expect((0..<5).allSatisfy { y[r, $0] == x[r, $0] } && y[r, 5] == 1)
    }
  }
}
