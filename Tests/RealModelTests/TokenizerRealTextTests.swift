// Whole evaluation texts against the HF goldens of scripts/tokenizer-goldens.py (release only:
// 1.3 MB of text per test).
import Foundation
import LinearAlgebra
import TestSupport
import Testing
import Transformer

@Suite("Tokenizer on the whole evaluation texts")
struct TokenizerRealTextTests {
  static func text(_ relative: String, _ format: EvaluationText.Format) throws -> String {
    try EvaluationText.load(path: RealModel.sharedData + "/" + relative, format: format)
  }

  /// Checks ids against a golden; on a mismatch, says where the ids first depart.
  static func check(_ ids: [Int], _ name: String) throws {
    let mismatch = try TokenizerGolden.load(name).mismatch(ids)
    #expect(mismatch.isEmpty, "\(name): \(mismatch)")
  }

  @Test("SmolLM2: WikiText-2 raw test and PTB test give HF's ids; decode gives the text back",
        .enabled(if: RealModel.isPresent, Comment(rawValue: RealModel.absentMessage)))
  func smolLM2() throws {
    let tokenizer = try Tokenizer.load(modelPath: RealModel.ggufPath)
    #expect(tokenizer.preTokenizer == PreTokenizer(pattern: .gpt2, isolatesDigits: true))
    let wiki = try Self.text("wikitext-2-raw/wiki.test.raw", .wikitext)
    let wikiIDs = tokenizer.encode(wiki)
    try Self.check(wikiIDs, "smollm2-wikitext2-test")
    #expect(try tokenizer.decode(wikiIDs) == wiki)
    let ptb = try Self.text("ptb/ptb.test.txt", .ptb)
    let ptbIDs = tokenizer.encode(ptb)
    try Self.check(ptbIDs, "smollm2-ptb-test")
    #expect(ptbIDs.count == 105_807)  // DESIGN.md §4 reference
    #expect(try tokenizer.decode(ptbIDs) == ptb)
  }

  @Test("GPT-2: WikiText-2 raw test gives HF's 287,644 ids")
  func gpt2() throws {
    let tokenizer = try Tokenizer.load(modelPath: RealModel.sharedData + "/tokenizers/ggml-vocab-gpt-2.gguf")
    let wiki = try Self.text("wikitext-2-raw/wiki.test.raw", .wikitext)
    let ids = tokenizer.encode(wiki)
    #expect(ids.count == 287_644)  // DESIGN.md §4 reference
    try Self.check(ids, "gpt2-wikitext2-test")
    #expect(try tokenizer.decode(ids) == wiki)
  }

  @Test("SmolLM2: random Unicode round-trips except for the bytes its vocabulary lacks",
        .enabled(if: RealModel.isPresent, Comment(rawValue: RealModel.absentMessage)))
  func smolLM2RoundTrip() throws {
    let tokenizer = try Tokenizer.load(modelPath: RealModel.ggufPath)
    var rng = SplitMix64(seed: 2024)
    func next() -> UInt64 { rng.next() }
    // Scalars whose UTF-8 avoids SmolLM2's 21 absent bytes (0x04 0x06 0x13 0x14 0x16 0x1D,
    // 0xC0 0xC1, 0xF1…0xFF): below U+40000, and no absent control characters.
    let ranges: [ClosedRange<UInt32>] = [0x20...0x7E, 0x0A...0x0A, 0xA0...0x24F, 0x300...0x36F, 0x4E00...0x9FFF,
                                         0x1F300...0x1FAFF, 0xAC00...0xD7A3, 0x20000...0x2A6DF]
    for trial in 0..<200 {
      var s = String.UnicodeScalarView()
      for _ in 0..<Int(next() % 300) {
        let r = ranges[Int(next() % UInt64(ranges.count))]
        if let u = Unicode.Scalar(r.lowerBound + UInt32(next() % UInt64(r.upperBound - r.lowerBound + 1))) { s.append(u) }
      }
      let text = String(s)
      #expect(try tokenizer.decode(tokenizer.encode(text)) == text, "trial \(trial)")
    }
    // An absent byte is dropped, as HF does: U+0004 vanishes.
    #expect(try tokenizer.decode(tokenizer.encode("a\u{4}b")) == "ab")
  }
}
