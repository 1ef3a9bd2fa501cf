import Foundation
import LinearAlgebra
import TestSupport
import Testing
import Transformer

/// Loaded once: the llama.cpp test vocabularies are large (up to 152k tokens).
enum TestVocabularies {
  static let gpt2 = Result { try Tokenizer.load(modelPath: TokenizerFixtures.vocabulary("gpt-2")) }
  static let llama3 = Result { try Tokenizer.load(modelPath: TokenizerFixtures.vocabulary("llama-bpe")) }
  static let qwen2 = Result { try Tokenizer.load(modelPath: TokenizerFixtures.vocabulary("qwen2")) }
}

@Suite("Tokenizer: llama.cpp test vectors")
struct TokenizerVectorTests {
  /// Cases as llama.cpp's test-tokenizer-0 reads them: the .inp file split on
  /// "\n__ggml_vocab_test__\n" (each case is followed by one), the .out file one line of
  /// space-separated ids per case.
  static func cases(_ name: String) throws -> [(text: String, ids: [Int])] {
    let base = TokenizerFixtures.vocabulary(name)
    let inp = try String(contentsOfFile: base + ".inp", encoding: .utf8)
    let out = try String(contentsOfFile: base + ".out", encoding: .utf8)
    var texts = inp.components(separatedBy: "\n__ggml_vocab_test__\n")
    #expect(texts.last == "")
    texts.removeLast()
    var lines = out.components(separatedBy: "\n")
    if lines.last == "" { lines.removeLast() }
    #expect(texts.count == lines.count)
    return zip(texts, lines).map { text, line in
      (text, line.split(separator: " ").map { Int($0)! })
    }
  }

  @Test("exact ids for every case", arguments: ["gpt-2", "llama-bpe", "qwen2"])
  func vectors(name: String) throws {
    let tokenizer: Tokenizer
    switch name {
    case "gpt-2": tokenizer = try TestVocabularies.gpt2.get()
    case "llama-bpe": tokenizer = try TestVocabularies.llama3.get()
    default: tokenizer = try TestVocabularies.qwen2.get()
    }
    let cases = try Self.cases(name)
    #expect(cases.count == 46)
    for (i, c) in cases.enumerated() {
      let ids = tokenizer.encode(c.text)
      #expect(ids == c.ids, "\(name) case \(i): \(c.text.debugDescription)")
      #expect(try tokenizer.decode(ids) == c.text, "\(name) case \(i) round trip")
    }
  }
}

@Suite("Tokenizer: pre-tokenizer pieces")
struct PreTokenizerTests {
  static func pieces(_ text: String, _ pre: PreTokenizer) -> [String] { pre.split(text) }

  // Expected pieces worked out by hand from the regular expressions in PreTokenizer.swift.
  @Test("GPT-2 pattern")
  func gpt2() {
    let p = PreTokenizer(pattern: .gpt2)
    #expect(Self.pieces("Hello  world's 123!! ", p) == ["Hello", " ", " world", "'s", " 123", "!!", " "])
    #expect(Self.pieces("I'M  \n\tx", p) == ["I", "'", "M", "  \n", "\t", "x"])
    #expect(Self.pieces("don't we'll", p) == ["don", "'t", " we", "'ll"])
    #expect(Self.pieces("a\u{00A0}b", p) == ["a", "\u{00A0}", "b"])  // NBSP is \s but not ' '
    #expect(Self.pieces("¼½ x²", p) == ["¼½", " x", "²"])               // No is \p{N}
    #expect(Self.pieces("e\u{301}t\u{e9}", p) == ["e", "\u{301}", "t\u{e9}"])  // Mn is neither L nor N
  }

  @Test("SmolLM2: digits isolated first, the pattern runs between them")
  func digits() {
    let p = PreTokenizer(pattern: .gpt2, isolatesDigits: true)
    #expect(Self.pieces("in 1990,  2", p) == ["in", " ", "1", "9", "9", "0", ",", "  ", "2"])
    #expect(Self.pieces("x  1", PreTokenizer(pattern: .gpt2)) == ["x", " ", " 1"])
  }

  @Test("Llama-3 and Qwen2 patterns")
  func llama() {
    let l = PreTokenizer(pattern: .llama3), q = PreTokenizer(pattern: .qwen2)
    #expect(Self.pieces("I'M 12345 (ok)\n\n  x", l) == ["I", "'M", " ", "123", "45", " (", "ok", ")\n\n", " ", " x"])
    #expect(Self.pieces("12345", q) == ["1", "2", "3", "4", "5"])
    #expect(Self.pieces("a \n \n b", l) == ["a", " \n \n", " b"])
    #expect(Self.pieces("x   ", l) == ["x", "   "])
    #expect(Self.pieces("\tfoo", l) == ["\tfoo"])
  }

  @Test("GGUF pre-tokenizer names")
  func names() throws {
    #expect(try PreTokenizer(ggmlName: "smollm") == PreTokenizer(pattern: .gpt2, isolatesDigits: true))
    #expect(try PreTokenizer(ggmlName: "gpt-2") == PreTokenizer(pattern: .gpt2))
    #expect(try PreTokenizer(ggmlName: "llama-bpe") == PreTokenizer(pattern: .llama3))
    #expect(try PreTokenizer(ggmlName: "qwen2") == PreTokenizer(pattern: .qwen2))
    #expect(throws: TokenizerError.self) { try PreTokenizer(ggmlName: "no-such-thing") }
  }
}

@Suite("Tokenizer: BPE, decoding, special tokens, loaders")
struct TokenizerBehaviourTests {
  @Test("fast merge paths equal the reference on random byte strings")
  func mergeTwins() throws {
    let t = try TestVocabularies.gpt2.get()
    var rng = SplitMix64(seed: 4)
    let alphabet = Array("the quick brown fox  jumps over érable 😀 \n\t12".utf8)
    for trial in 0..<300 {
      let n = trial < 250 ? Int(rng.next() % 40) + 1 : Int(rng.next() % 400) + 65
      let bytes = (0..<n).map { _ in rng.next() % 4 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : alphabet[Int(rng.next() % UInt64(alphabet.count))] }
      let reference = t.merge(bytes: bytes, algorithm: .reference)
      #expect(t.merge(bytes: bytes, algorithm: .rankArray) == reference, "trial \(trial)")
      #expect(t.merge(bytes: bytes, algorithm: .heap) == reference, "trial \(trial)")
    }
    // The reference itself on a hand-checked case: "Ġ t" (rank 0) then "Ġt he"… give " the".
    #expect(t.merge(bytes: Array(" the".utf8), algorithm: .reference) == [t.id(forToken: "Ġthe")!])
  }

  @Test("ids do not depend on the segment size", arguments: ["gpt2", "llama3", "qwen2"])
  func segments(name: String) throws {
    let t = try (name == "gpt2" ? TestVocabularies.gpt2 : name == "llama3" ? TestVocabularies.llama3 : TestVocabularies.qwen2).get()
    var texts = try TokenizerVectorTests.cases("gpt-2").map(\.text)
    texts.append(texts.joined(separator: "\n"))
    texts.append("a\nb\n\nc \n d\r\ne'\nS\n'S 12\n34\n  x\n\tX\n<|endoftext|>\nZ ab  cd   e\n\nf \n")
    for text in texts {
      let whole = t.encodeIDs(text, allowSpecialTokens: true, segmentBytes: .max)
      for size in [1, 2, 7, 64] {
        #expect(t.encodeIDs(text, allowSpecialTokens: true, segmentBytes: size) == whole, "\(name) size \(size): \(text.debugDescription)")
      }
    }
  }

  @Test("decode(encode(x)) == x on random Unicode text")
  func roundTrip() throws {
    var rng = SplitMix64(seed: 44)
    let ranges: [ClosedRange<UInt32>] = [0x20...0x7E, 0x09...0x0D, 0xA0...0x24F, 0x300...0x36F, 0x4E00...0x9FFF,
                                         0x1F300...0x1FAFF, 0x0600...0x06FF, 0x2000...0x206F, 0x10000...0x10FFFF]
    for name in ["gpt2", "llama3", "qwen2"] {
      let t = try (name == "gpt2" ? TestVocabularies.gpt2 : name == "llama3" ? TestVocabularies.llama3 : TestVocabularies.qwen2).get()
      for trial in 0..<60 {
        var s = String.UnicodeScalarView()
        for _ in 0..<Int(rng.next() % 200) {
          let r = ranges[Int(rng.next() % UInt64(ranges.count))]
          let v = r.lowerBound + UInt32(rng.next() % UInt64(r.upperBound - r.lowerBound + 1))
          if let u = Unicode.Scalar(v) { s.append(u) }
        }
        let text = String(s)
        #expect(try t.decode(t.encode(text)) == text, "\(name) trial \(trial)")
      }
    }
  }

  @Test("ill-formed UTF-8 decodes to U+FFFD per maximal subpart")
  func invalidUTF8() throws {
    let t = try TestVocabularies.gpt2.get()
    func ids(_ bytes: [UInt8]) -> [Int] { bytes.map { t.id(forToken: ByteLevel.encode([$0]))! } }
    #expect(try t.decode(ids([0xE2, 0x82, 0x41])) == "\u{FFFD}A")             // truncated 3-byte
    #expect(try t.decode(ids([0xC0, 0x80])) == "\u{FFFD}\u{FFFD}")            // overlong
    #expect(try t.decode(ids([0xED, 0xA0, 0x80])) == "\u{FFFD}\u{FFFD}\u{FFFD}")  // surrogate
    #expect(try t.decode(ids([0xF0, 0x9F, 0x98])) == "\u{FFFD}")              // truncated emoji
    #expect(try t.decode(ids([0xF0, 0x9F, 0x98, 0x80])) == "😀")
    // Half an emoji from one token sequence, the rest from the next.
    let emoji = t.encode("😀")
    #expect(try t.decodeBytes(emoji) == [0xF0, 0x9F, 0x98, 0x80])
    #expect(throws: TokenizerError.unknownTokenID(t.vocabularySize, vocabularySize: t.vocabularySize)) {
      try t.decode([t.vocabularySize])
    }
    #expect(throws: TokenizerError.self) { try t.decode([-1]) }
  }

  @Test("special tokens only when asked")
  func specials() throws {
    let t = try TestVocabularies.gpt2.get()
    let text = "a<|endoftext|>b"
    #expect(!t.encode(text).contains(50256))
    #expect(t.encode(text) == t.encode("a<|endoftext|>b", allowSpecialTokens: false))
    #expect(t.encode(text, allowSpecialTokens: true) == t.encode("a") + [50256] + t.encode("b"))
    #expect(try t.decode(t.encode(text, allowSpecialTokens: true)) == text)
    #expect(try t.decode(t.encode(text, allowSpecialTokens: true), skipSpecialTokens: true) == "ab")
    #expect(t.endOfSequenceID == 50256)
  }

  @Test("tokenizer.json export loads back to the same tokenizer (GPT-2 vocabulary)")
  func exportReload() throws {
    let t = try TestVocabularies.gpt2.get()
    let back = try Tokenizer(tokenizerJSON: try t.tokenizerJSON())
    #expect(back.tokens == t.tokens)
    #expect(back.merges.elementsEqual(t.merges) { $0 == $1 })
    #expect(back.preTokenizer == t.preTokenizer)
    #expect(back.addedTokens == t.addedTokens)
    for c in try TokenizerVectorTests.cases("gpt-2") { #expect(back.encode(c.text) == c.ids) }
  }

  @Test("tokenizer.json export keeps every pre-tokenizer and flag",
        arguments: [PreTokenizer(pattern: .gpt2, isolatesDigits: true), PreTokenizer(pattern: .llama3), PreTokenizer(pattern: .qwen2)])
  func exportPreTokenizers(pre: PreTokenizer) throws {
    let alphabet = (0..<256).map { ByteLevel.encode([UInt8($0)]) }
    let t = try Tokenizer(tokens: alphabet + ["Ġt", "Ġth", "<|x|>", AddedTokenFixture.awkward], merges: [("Ġ", "t"), ("Ġt", "h")],
                          preTokenizer: pre,
                          addedTokens: [AddedTokenFixture.special(258), .init(id: 259, content: AddedTokenFixture.awkward, isSpecial: false)],
                          ignoresMerges: pre.pattern == .llama3)
    let back = try Tokenizer(tokenizerJSON: try t.tokenizerJSON())
    #expect(back.preTokenizer == pre)
    #expect(back.ignoresMerges == t.ignoresMerges)
    #expect(back.tokens == t.tokens)
    #expect(back.addedTokens == t.addedTokens)
    #expect(back.encode(" the 1234<|x|>", allowSpecialTokens: true) == t.encode(" the 1234<|x|>", allowSpecialTokens: true))
    #expect(t.encode(" th<|x|>", allowSpecialTokens: true) == [257, 258])
    #expect(back.encode("a" + AddedTokenFixture.awkward) == t.encode("a") + [259])  // non-special: always matched
  }

  @Test("vocab.json + merges.txt and folder loading")
  func gpt2Files() throws {
    let t = try TestVocabularies.gpt2.get()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-tok-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var vocab: [String: Int] = [:]
    for (i, s) in t.tokens.enumerated() { vocab[s] = i }
    try JSONSerialization.data(withJSONObject: vocab).write(to: dir.appendingPathComponent("vocab.json"))
    let merges = "#version: 0.2\n" + t.merges.map { "\(t.tokens[$0.left]) \(t.tokens[$0.right])" }.joined(separator: "\n") + "\n"
    try Data(merges.utf8).write(to: dir.appendingPathComponent("merges.txt"))
    let loaded = try Tokenizer.load(modelPath: dir.path)
    for c in try TokenizerVectorTests.cases("gpt-2") { #expect(loaded.encode(c.text) == c.ids) }
    // A tokenizer.json beside them wins; it can also be named directly.
    let json = dir.appendingPathComponent("tokenizer.json")
    try t.tokenizerJSON().write(to: json)
    #expect(try Tokenizer.load(modelPath: dir.path).merges.count == t.merges.count)
    #expect(try Tokenizer.load(modelPath: json.path).encode("Hello world") == [15496, 995])
    try Data("{}".utf8).write(to: json)
    #expect(throws: TokenizerError.self) { try Tokenizer.load(modelPath: dir.path) }
    #expect(loaded.encode("x<|endoftext|>", allowSpecialTokens: true).last == 50256)
  }

  @Test("bad files give typed errors")
  func errors() throws {
    #expect(throws: TokenizerError.self) { try Tokenizer.load(modelPath: "/nonexistent/model.gguf") }
    #expect(throws: TokenizerError.self) { try Tokenizer(tokenizerJSON: Data("{".utf8)) }
    #expect(throws: TokenizerError.self) { try Tokenizer(tokenizerJSON: Data(#"{"model": {"type": "Unigram"}}"#.utf8)) }
    let base: [String: GGUFValue] = [
      "tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.pre": .string("gpt-2"),
      "tokenizer.ggml.tokens": .array(["a", "b", "ab"].map { .string($0) }),
      "tokenizer.ggml.merges": .array([.string("a b")]),
    ]
    let ok = try Tokenizer(ggufMetadata: base)
    #expect(ok.encode("abba") == [2, 1, 0])
    var m = base
    m["tokenizer.ggml.merges"] = .array([.string("a c")])
    #expect(throws: TokenizerError.self) { try Tokenizer(ggufMetadata: m) }
    m = base
    m["tokenizer.ggml.merges"] = .array([.string("ab")])
    #expect(throws: TokenizerError.self) { try Tokenizer(ggufMetadata: m) }
    m = base
    m["tokenizer.ggml.model"] = .string("llama")
    #expect(throws: TokenizerError.self) { try Tokenizer(ggufMetadata: m) }
    m = base
    m["tokenizer.ggml.tokens"] = .array([.string("a"), .uint8(1)])
    #expect(throws: TokenizerError.self) { try Tokenizer(ggufMetadata: m) }
    m = base
    m["tokenizer.ggml.bos_token_id"] = .uint32(7)
    #expect(throws: TokenizerError.self) { try Tokenizer(ggufMetadata: m) }
    m = base
    m["tokenizer.ggml.token_type"] = .array([.int32(1)])
    #expect(throws: TokenizerError.self) { try Tokenizer(ggufMetadata: m) }
  }

  @Test("bytes missing from the vocabulary are dropped, as HF BPE does")
  func missingBytes() throws {
    let m: [String: GGUFValue] = [
      "tokenizer.ggml.model": .string("gpt2"),
      "tokenizer.ggml.tokens": .array(["a", "b", "ab", "!", "?", "!?"].map { .string($0) }),
      "tokenizer.ggml.merges": .array([.string("a b"), .string("! ?")]),
    ]
    let t = try Tokenizer(ggufMetadata: m)
    // "!\u{4}?" is one piece; without the absent byte, "!" and "?" meet and merge.
    #expect(t.encode("!\u{4}?") == [5])
    #expect(t.encode("cab") == [2])
  }
}

@Suite("EvaluationText")
struct EvaluationTextTests {
  @Test("wikitext, ptb and text joins")
  func joins() {
    let wiki = " = A = \n \n Text here . \n \n"
    #expect(EvaluationText.join(wiki, format: .wikitext) == " = A = \n\n\n\n\n Text here . \n\n\n")
    let ptb = " no it was n't \n but while \n"
    #expect(EvaluationText.join(ptb, format: .ptb) == "no it was n't\n\nbut while")
    #expect(EvaluationText.join("a\r\nb", format: .text) == "a\r\nb")
    #expect(EvaluationText.join("x\r\n \r\n", format: .wikitext) == "x\r\n\n\n")
  }

  @Test("load reports missing and non-UTF-8 files")
  func loadErrors() throws {
    #expect(throws: EvaluationText.LoadError.self) { try EvaluationText.load(path: "/nonexistent", format: .text) }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pare-bad-\(UUID().uuidString).txt")
    try Data([0x61, 0xFF, 0x62]).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    #expect(throws: EvaluationText.LoadError.notUTF8(path: url.path)) { try EvaluationText.load(path: url.path, format: .text) }
  }

  @Test("the real files join to the texts the goldens were made from")
  func realFiles() throws {
    let wiki = try EvaluationText.load(path: TokenizerFixtures.sharedData.appendingPathComponent("wikitext-2-raw/wiki.test.raw").path, format: .wikitext)
    #expect(TokenizerSHA256.hex(Array(wiki.utf8)) == (try TokenizerGolden.load("smollm2-wikitext2-test")).text_sha256)
    let ptb = try EvaluationText.load(path: TokenizerFixtures.sharedData.appendingPathComponent("ptb/ptb.test.txt").path, format: .ptb)
    #expect(TokenizerSHA256.hex(Array(ptb.utf8)) == (try TokenizerGolden.load("smollm2-ptb-test")).text_sha256)
  }

  @Test("SHA-256 helper matches FIPS 180-4 examples")
  func sha() {
    #expect(TokenizerSHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(TokenizerSHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(TokenizerSHA256.hex([UInt8](repeating: 0x61, count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    #expect(TokenizerSHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  }
}

enum AddedTokenFixture {
  static func special(_ id: Int) -> Tokenizer.AddedToken { .init(id: id, content: "<|x|>", isSpecial: true) }
  /// A token that needs every JSON escape.
  static let awkward = "<|q\"\\\t\u{1}é|>"
}
