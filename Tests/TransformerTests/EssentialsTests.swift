// The Foundation stand-ins of Support/Essentials.swift and Files/JSONWriting.swift against
// Foundation itself (this test target imports full Foundation): the `pare` binary links
// FoundationEssentials only, and must print exactly what it printed with Foundation.

import Foundation
import LinearAlgebra
import Testing
import Transformer

@Suite("Essentials: Foundation stand-ins give Foundation's text")
struct EssentialsTests {
  /// Awkward doubles: ties in binary (0.125, 2.5), values just under a rounding edge,
  /// negatives rounding to -0, large and tiny magnitudes, and random ones.
  static let doubles: [Double] = {
    var values: [Double] = [0, -0.0, 0.5, 1.5, 2.5, 0.125, 0.375, 1.005, 2.675, 9.995, 99.95, 0.05, -0.05, -0.0001,
                            1e-9, 123456.789, 1e15, 1e22, 1.7976931348623157e308, Double.leastNonzeroMagnitude, 33.333333333, 12345.67]
    var rng = SplitMix64(seed: 16)
    for _ in 0..<500 {
      let mantissa = Double(rng.next() % 2_000_000) / 1000 - 1000
      let scale = [1e-3, 1, 1e3, 1e6][Int(rng.next() % 4)]
      values.append(mantissa * scale)
    }
    return values
  }()

  @Test("formatFixed equals String(format: \"%W.Pf\")")
  func fixedPoint() {
    for x in Self.doubles {
      for decimals in 0...4 {
        #expect(formatFixed(x, decimals) == String(format: "%.\(decimals)f", x), "x = \(x), %.\(decimals)f")
      }
      for (width, decimals) in [(6, 1), (8, 4), (7, 4), (8, 1), (8, 2)] {
        #expect(formatFixed(x, decimals, width: width) == String(format: "%\(width).\(decimals)f", x),
                "x = \(x), %\(width).\(decimals)f")
      }
    }
    // Longer than the first buffer: the result is complete.
    #expect(formatFixed(1e300, 2) == String(format: "%.2f", 1e300))
  }

  @Test("padLeft and padRight equal %7d and NSString.padding")
  func padding() {
    for n in [0, 7, -3, 1234567, 12345678] {
      #expect(padLeft(String(n), 7) == String(format: "%7ld", n))
    }
    for s in ["", "piqa", "arc_challenge", "winogrande_long_name"] {
      #expect(padRight(s, 15) == s.padding(toLength: max(15, s.count), withPad: " ", startingAt: 0))
    }
  }

  @Test("trimmingSpaces equals trimmingCharacters(in: .whitespaces)")
  func trimming() {
    for s in ["", " ", "\t", "  a b  ", "\ta\t", "\u{A0}x\u{3000}", "\n x \n", "x\r", " 3 ", "\u{2003}12\u{2009}"] {
      #expect(s.trimmingSpaces() == s.trimmingCharacters(in: .whitespaces), "\(s.debugDescription)")
    }
  }

  @Test("lastRange and firstRange equal range(of:) forwards and backwards")
  func ranges() {
    let cases = [("a. b. c", ". "), ("no end here", ". "), ("x! y? z. ", ". "), ("..", "."), ("", "."),
                 ("label: a. b! c", "! "), ("é. é", ". "), ("aaaa", "aa"), (".stage.pare-123", ".pare-")]
    for (text, pattern) in cases {
      let expected = text.range(of: pattern, options: .backwards).map { text.distance(from: text.startIndex, to: $0.lowerBound) }
      let actual = text.lastRange(of: pattern).map { text.distance(from: text.startIndex, to: $0.lowerBound) }
      #expect(actual == expected, "\(text.debugDescription) / \(pattern.debugDescription)")
      let first = text.firstRange(of: pattern).map { text.distance(from: text.startIndex, to: $0.lowerBound) }
      #expect(first == text.range(of: pattern).map { text.distance(from: text.startIndex, to: $0.lowerBound) })
    }
  }

  @Test("canonicallyComposed equals precomposedStringWithCanonicalMapping")
  func nfc() {
    for s in ["plain", "e\u{301}", "A\u{30A}", "\u{1100}\u{1161}\u{11A8}", "\u{212B}", "o\u{308}\u{304}", "q\u{307}\u{323}",
              "\u{1E9B}\u{323}", "ｶﾞ", "한국어 e\u{301}t\u{E9}"] {
      #expect(Array(s.canonicallyComposed.unicodeScalars) == Array(s.precomposedStringWithCanonicalMapping.unicodeScalars),
              "\(s.debugDescription)")
    }
  }

  @Test("describeFileError names the C library's reason")
  func fileErrors() throws {
    let missing = URL(fileURLWithPath: "/nonexistent-\(UInt32.random(in: 0...UInt32.max))/file")
    #expect(throws: (any Error).self) { _ = try Data(contentsOf: missing) }
    do { _ = try Data(contentsOf: missing) } catch { #expect(describeFileError(error) == "No such file or directory") }
    do { try Data([1]).write(to: missing) } catch { #expect(describeFileError(error) == "No such file or directory") }
  }

  // MARK: - JSON

  static func foundationJSON(_ object: [String: Any], escapingSlashes: Bool = false) throws -> String {
    let options: JSONSerialization.WritingOptions = escapingSlashes ? [.sortedKeys] : [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try JSONSerialization.data(withJSONObject: object, options: options), as: UTF8.self)
  }

  static func pareJSON(_ object: [String: Any], escapingSlashes: Bool = false) throws -> String {
    try #require(JSONValue(any: object)).compactText(escapingSlashes: escapingSlashes)
  }

  @Test("objects like pare's --json outputs serialise as JSONSerialization did")
  func jsonOutputs() throws {
    let objects: [[String: Any]] = [
      // eval, generate, export, inspect, zero-shot shapes (values made up, types real).
      ["perplexity": 18.123456789012345, "tokens": 1024, "chunks": 8, "seconds": 3.5, "tokens_per_second": 292.57142857142856,
       "sequence_length": 128, "dataset_tokens": 287_645, "mean_nll": 2.8972],
      ["prompt": "Once upon a time", "text": "a/b \"quoted\"\n\ttab \u{1} é 中文 \u{2028}", "tokens": 32, "prompt_tokens": 5,
       "seconds": 1.0, "tokens_per_second": 1e-5, "prefill_tokens_per_second": 1e20, "decode_tokens_per_second": 0.1,
       "weights": "stored"],
      ["out": "/tmp/x.gguf", "type": "Q4_0", "architecture": "llama", "bytes": 98_000_000,
       "tensor_types": ["F32": 61, "Q4_0": 168, "Q4_K": 3, "Q6_K": 1, "BF16": 2, "F16": 4, "Q8_0": 5, "Q5_0": 9, "Q4_1": 2],
       "fallbacks": [String](), "padded_query_heads": 0, "added_kv_heads": 0, "padded_channels": 0,
       "parameters_before": 134_515_008, "parameters_after": 134_515_008, "input_bytes": 1_234_567_890_123],
      ["path": "models/m.gguf", "format": "gguf", "family": "llama", "layers": 30, "hidden_size": 576, "head_dim": 64,
       "heads": [9, 8, 9], "kv_heads": 3, "intermediate_size": 1536, "vocab_size": 49152, "max_positions": 8192,
       "norm_eps": 1e-05, "parameters": 134_515_008, "tensors": 272, "dtypes": ["Q4_1", "F32"], "file_bytes": 98_000_000,
       "tied_embeddings": true],
      ["tasks": ["arc_easy": ["acc": 0.5, "acc_stderr": 0.01, "acc_norm": jsonNull, "acc_norm_stderr": jsonNull, "items": 10,
                              "metric": "acc", "value": 0.5, "seconds": 2.25, "items_per_second": 4.444444444444445],
                 "arc_challenge": ["acc": 0.25], "hellaswag": ["acc": -0.0], "piqa": [:] as [String: Any],
                 "winogrande": ["acc": 1e16], "boolq": ["acc": 123456789.125], "openbookqa": ["acc": Double.leastNonzeroMagnitude]],
       "average": 0.40625],
      ["ids": [1, 2, 3, 49151], "count": 4, "empty": [Any](), "nested": [[1.5, "x"], [true, false]]],
    ]
    for object in objects {
      var foundationObject = object
      Self.replaceNulls(&foundationObject)
      #expect(try Self.pareJSON(object) == Self.foundationJSON(foundationObject))
      #expect(try Self.pareJSON(object, escapingSlashes: true) == Self.foundationJSON(foundationObject, escapingSlashes: true))
    }
    // Random doubles in every magnitude: Swift's shortest form is JSONSerialization's.
    var rng = SplitMix64(seed: 61)
    for _ in 0..<300 {
      let x = Double(bitPattern: rng.next())
      guard x.isFinite else { continue }
      #expect(try Self.pareJSON(["x": x]) == Self.foundationJSON(["x": x]))
    }
    // Float keeps its own short text.
    #expect(try Self.pareJSON(["f": Float(0.1)]) == Self.foundationJSON(["f": Float(0.1)]))
  }

  /// `jsonNull` → `NSNull()` for Foundation's serialiser.
  static func replaceNulls(_ object: inout [String: Any]) {
    for (k, v) in object {
      if let j = v as? JSONValue, j == .null { object[k] = NSNull() }
      if var inner = v as? [String: Any] { replaceNulls(&inner); object[k] = inner }
    }
  }

  @Test("non-finite numbers are refused, as isValidJSONObject refused them")
  func nonFinite() {
    for bad: [String: Any] in [["x": Double.nan], ["x": [Double.infinity]], ["x": ["y": -Double.infinity]], ["x": Float.nan]] {
      #expect(JSONValue(any: bad) == nil)
      #expect(!JSONSerialization.isValidJSONObject(bad))
    }
  }

  @Test("jsonKeyPrecedes sorts random ASCII keys as JSONSerialization's .sortedKeys does")
  func keyOrder() throws {
    let alphabet = Array("aAbBzZ019_-. ")
    var rng = SplitMix64(seed: 7)
    for _ in 0..<40 {
      var object: [String: Any] = [:]
      for _ in 0..<40 {
        let length = 1 + Int(rng.next() % 6)
        object[String((0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })] = 1
      }
      #expect(try Self.pareJSON(object) == Self.foundationJSON(object))
    }
    // Every ASCII punctuation character, and digit runs with leading zeros.
    var object: [String: Any] = [:]
    for c in " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789aAzZ" { object["k\(c)x"] = 1 }
    for k in ["x1", "x01", "x001", "x10", "x9", "a9c", "a010", "a10b", "Q4_K", "Q40", "q4_0", "Q4_0", "tokens2", "tokensA",
              "tokens_per_second", "token"] { object[k] = 1 }
    #expect(try Self.pareJSON(object) == Self.foundationJSON(object))
  }

  @Test("anyValue gives what JSONSerialization.jsonObject gave")
  func parseToAny() throws {
    let text = #"{"a": [1, 2.5, "s", true, null, {"b": -3}], "n": 1e2, "big": 12345678901}"#
    let any = try #require(try JSONValue.parse(Array(text.utf8)).anyValue as? [String: Any])
    let reference = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    let a = try #require(any["a"] as? [Any]), ra = try #require(reference["a"] as? [Any])
    #expect(jsonInteger(a[0]) == (ra[0] as? NSNumber)?.intValue)
    #expect(jsonNumber(a[1]) == (ra[1] as? NSNumber)?.doubleValue)
    #expect(a[2] as? String == ra[2] as? String)
    #expect(a[3] as? Bool == ra[3] as? Bool)
    #expect((a[4] as? JSONValue) == .null && ra[4] is NSNull)
    #expect(jsonInteger((a[5] as? [String: Any])?["b"]) == -3)
    #expect(jsonInteger(any["n"]) == 100 && jsonInteger(any["big"]) == 12_345_678_901)
    #expect(jsonInteger(2.5) == nil && jsonInteger("3") == nil)
  }
}
