import Testing
import Transformer

@Suite("LayerShape")
struct LayerShapeTests {
  @Test("dense GQA layout maps query heads to KV groups as HF does")
  func denseGrouping() {
    let shape = LayerShape.dense(headCount: 9, keyValueHeadCount: 3, intermediateSize: 1536)
    #expect(shape.keyValueHeadOfQuery == [0, 0, 0, 1, 1, 1, 2, 2, 2])
    #expect(shape.queryHeadCount == 9)
  }
}
