import Foundation
import LinearAlgebra
import Testing
import Transformer

@Suite("Forward goldens")
struct ForwardGoldenTests {
  static let models = ["gpt2-tiny", "llama-gqa", "llama-mha-tied"]

  @Test("full-sequence logits match Hugging Face", arguments: models)
  func logitsMatchHF(name: String) throws {
    let model = try FixtureModel.load(name)
    let golden = try ForwardFixture.golden(name)
    let logits = try model.logits(golden.inputIDs)
    #expect(logits.rows == golden.inputIDs.count * golden.inputIDs[0].count)
    #expect(logits.columns == golden.vocabularySize)
    #expect(relativeMaxError(logits.storage, golden.logits) <= ForwardTolerance.logits)
  }

  @Test("KV-cache decoding gives the full-sequence logits", arguments: models)
  func kvCacheMatchesFullSequence(name: String) throws {
    let model = try FixtureModel.load(name)
    let golden = try ForwardFixture.golden(name)
    let sequence = golden.inputIDs[0]
    let full = try model.logits([sequence])
    var cache = KVCache(config: model.config)
    // A prefill of 3 tokens, then one token at a time.
    var rows: [[Float]] = []
    let prefill = try model.decode(Array(sequence[0..<3]), cache: &cache)
    for t in 3..<sequence.count { rows.append(try model.decode([sequence[t]], cache: &cache)) }
    #expect(cache.length == sequence.count)
    #expect(relativeMaxError(prefill, full.row(2)) <= ForwardTolerance.sameFunction)
    for (i, row) in rows.enumerated() {
      #expect(relativeMaxError(row, full.row(3 + i)) <= ForwardTolerance.sameFunction)
    }
  }

  @Test("a batch gives each sequence's single-sequence logits")
  func batchEqualsSingles() throws {
    let model = try FixtureModel.load("llama-gqa")
    let golden = try ForwardFixture.golden("llama-gqa")
    let batched = try model.logits(golden.inputIDs)
    let t = golden.inputIDs[0].count
    for (b, seq) in golden.inputIDs.enumerated() {
      let single = try model.logits([seq])
      let part = Array(batched.storage[(b * t * batched.columns)..<((b + 1) * t * batched.columns)])
      #expect(relativeMaxError(single.storage, part) <= ForwardTolerance.sameFunction)
    }
  }
}
