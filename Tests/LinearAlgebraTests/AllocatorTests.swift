import Testing
import LinearAlgebra

@Suite("Allocator tuning")
struct AllocatorTests {
  @Test("glibc accepts the large-block settings, and allocation still works after them")
  func keepLargeBlocks() {
    #if canImport(Glibc)
    #expect(Allocator.keepLargeBlocks())
    #else
    #expect(!Allocator.keepLargeBlocks())
    #endif
    // A block above the old mmap threshold, freed and allocated again.
    for _ in 0..<3 {
      let m = Matrix(rows: 4096, columns: 4096)
      #expect(m.storage.count == 1 << 24 && m[0, 0] == 0 && m[4095, 4095] == 0)
    }
  }
}
