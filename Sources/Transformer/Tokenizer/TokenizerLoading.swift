// Loading tokenizers from the files models ship with, and writing HF tokenizer.json.
//
// GGUF metadata keys and HF JSON field names appear only in this file.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension String {
  /// Unicode NFC, for tokenizers that declare an NFC normalizer.
  var precomposedForTokenizer: String { canonicallyComposed }
}

extension Tokenizer {
  /// Largest tokenizer file read into memory.
  public static let maxFileBytes = 1 << 30

  // MARK: - Any model path

  /// The tokenizer of a model: a GGUF file, a folder holding `tokenizer.json` or
  /// `vocab.json` + `merges.txt`, or a `tokenizer.json` file itself.
  public static func load(modelPath: String) throws -> Tokenizer {
    var isDirectory = false
    guard FileManager.default.fileExists(atPath: modelPath, isDirectory: &isDirectory) else {
      throw TokenizerError.missing("model file or folder '\(modelPath)'")
    }
    let url = URL(fileURLWithPath: modelPath)
    if isDirectory {
      let json = url.appendingPathComponent("tokenizer.json")
      if FileManager.default.fileExists(atPath: json.path) {
        return try Tokenizer(tokenizerJSON: try readFile(json))
      }
      let vocab = url.appendingPathComponent("vocab.json"), merges = url.appendingPathComponent("merges.txt")
      if FileManager.default.fileExists(atPath: vocab.path) && FileManager.default.fileExists(atPath: merges.path) {
        return try Tokenizer(vocabJSON: try readFile(vocab), mergesText: try readFile(merges))
      }
      throw TokenizerError.missing("tokenizer.json (or vocab.json + merges.txt) in '\(modelPath)'")
    }
    if url.pathExtension.lowercased() == "json" {
      return try Tokenizer(tokenizerJSON: try readFile(url))
    }
    let file = try GGUFFile(contentsOf: url)
    return try Tokenizer(ggufMetadata: file.metadata)
  }

  private static func readFile(_ url: URL) throws -> Data {
    let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil
    if let size, size > maxFileBytes { throw TokenizerError.tooLarge("\(url.lastPathComponent) (\(size) bytes)") }
    do { return try Data(readingFile: url) } catch {
      throw TokenizerError.invalid("cannot read \(url.path): \(describeFileError(error))")
    }
  }

  // MARK: - GGUF

  /// From GGUF metadata (`tokenizer.ggml.*`): model "gpt2" (byte-level BPE), tokens,
  /// merges ("left right"), token types (3 = control → special added token, 4 = user
  /// defined → added token), pre-tokenizer name, BOS/EOS ids.
  public init(ggufMetadata m: [String: GGUFValue]) throws {
    guard let model = m["tokenizer.ggml.model"] else { throw TokenizerError.missing("GGUF key tokenizer.ggml.model") }
    guard model.stringValue == "gpt2" else {
      throw TokenizerError.unsupported("GGUF tokenizer model '\(model.stringValue ?? "\(model)")' (only byte-level BPE, \"gpt2\")")
    }
    func strings(_ key: String) throws -> [String] {
      guard let v = m[key] else { throw TokenizerError.missing("GGUF key \(key)") }
      guard let a = v.arrayValue else { throw TokenizerError.invalid("GGUF key \(key) is not an array") }
      return try a.enumerated().map { i, e in
        guard let s = e.stringValue else { throw TokenizerError.invalid("GGUF \(key)[\(i)] is not a string") }
        return s
      }
    }
    let tokens = try strings("tokenizer.ggml.tokens")
    guard tokens.count <= Self.maxVocabularySize else { throw TokenizerError.tooLarge("vocabulary of \(tokens.count) tokens") }
    let mergeLines = m["tokenizer.ggml.merges"] == nil ? [] : try strings("tokenizer.ggml.merges")
    let merges = try mergeLines.enumerated().map { i, line in try Self.splitMerge(line, index: i) }

    var added: [AddedToken] = []
    if let types = m["tokenizer.ggml.token_type"] {
      guard let a = types.arrayValue, a.count == tokens.count else {
        throw TokenizerError.invalid("GGUF tokenizer.ggml.token_type does not have one entry per token")
      }
      for (i, t) in a.enumerated() {
        switch t.intValue {
        case 3: added.append(AddedToken(id: i, content: tokens[i], isSpecial: true))
        case 4: added.append(AddedToken(id: i, content: tokens[i], isSpecial: false))
        case .some: break
        case .none: throw TokenizerError.invalid("GGUF tokenizer.ggml.token_type[\(i)] is not an integer")
        }
      }
    }
    let preName = m["tokenizer.ggml.pre"]?.stringValue ?? "default"
    let pre = try PreTokenizer(ggmlName: preName)
    func tokenID(_ key: String) throws -> Int? {
      guard let v = m[key] else { return nil }
      guard let id = v.intValue, id >= 0, id < tokens.count else {
        throw TokenizerError.invalid("GGUF \(key) is not a token id in 0..<\(tokens.count)")
      }
      return id
    }
    // llama.cpp ignores merges for whole-token pieces with the Llama-3 pre-tokenizer (as HF's
    // Llama-3 tokenizer.json says with "ignore_merges": true).
    try self.init(tokens: tokens, merges: merges, preTokenizer: pre, addedTokens: added,
                  ignoresMerges: pre.pattern == .llama3,
                  beginOfSequenceID: try tokenID("tokenizer.ggml.bos_token_id"),
                  endOfSequenceID: try tokenID("tokenizer.ggml.eos_token_id"))
  }

  static func splitMerge(_ line: String, index: Int) throws -> (String, String) {
    let parts = line.split(separator: " ", omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
      throw TokenizerError.invalid("merge rule \(index) ('\(line)') is not two tokens separated by one space")
    }
    return (String(parts[0]), String(parts[1]))
  }

  // MARK: - vocab.json + merges.txt (GPT-2)

  /// From GPT-2's `vocab.json` (token → id) and `merges.txt` (optional `#version` line,
  /// then one "left right" rule per line by rank). Pre-tokenizer: GPT-2's.
  /// `<|endoftext|>` becomes a special token when present.
  public init(vocabJSON: Data, mergesText: Data) throws {
    let tokens = try Self.denseVocabulary(try Self.jsonObject(vocabJSON, what: "vocab.json"), extra: [], what: "vocab.json")
    guard let text = String(data: mergesText, encoding: .utf8) else { throw TokenizerError.invalid("merges.txt is not UTF-8") }
    var merges: [(String, String)] = []
    for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let l = line.hasSuffix("\r") ? line.dropLast() : line[...]
      if l.isEmpty || (i == 0 && l.hasPrefix("#version")) { continue }
      merges.append(try Self.splitMerge(String(l), index: merges.count))
      guard merges.count <= Self.maxMergeCount else { throw TokenizerError.tooLarge("merges.txt") }
    }
    let eot = tokens.firstIndex(of: "<|endoftext|>")
    try self.init(tokens: tokens, merges: merges, preTokenizer: PreTokenizer(pattern: .gpt2),
                  addedTokens: eot.map { [AddedToken(id: $0, content: "<|endoftext|>", isSpecial: true)] } ?? [],
                  beginOfSequenceID: eot, endOfSequenceID: eot)
  }

  private static func jsonObject(_ data: Data, what: String) throws -> [String: Any] {
    let object: Any
    do { object = try JSONValue.parse(data).anyValue } catch {
      throw TokenizerError.invalid("\(what) is not valid JSON")
    }
    guard let dict = object as? [String: Any] else { throw TokenizerError.invalid("\(what) is not a JSON object") }
    return dict
  }

  /// Token strings by id from a token → id map plus extra (id, token) pairs; ids must be
  /// dense from 0 (a hole would be a token with no text).
  private static func denseVocabulary(_ map: [String: Any], extra: [(Int, String)], what: String) throws -> [String] {
    var byID: [Int: String] = [:]
    for (token, value) in map {
      guard let id = jsonInteger(value), id >= 0, id < maxVocabularySize else {
        throw TokenizerError.invalid("\(what): token '\(token)' has no valid id")
      }
      if let other = byID[id], other != token { throw TokenizerError.invalid("\(what): id \(id) names both '\(other)' and '\(token)'") }
      byID[id] = token
    }
    for (id, token) in extra where byID[id] == nil {
      guard id >= 0, id < maxVocabularySize else { throw TokenizerError.invalid("\(what): added token id \(id) is out of range") }
      byID[id] = token
    }
    let count = (byID.keys.max() ?? -1) + 1
    guard byID.count == count else {
      throw TokenizerError.invalid("\(what): token ids are not dense (\(byID.count) tokens, largest id \(count - 1))")
    }
    return (0..<count).map { byID[$0]! }
  }

  // MARK: - tokenizer.json (Hugging Face)

  /// From HF `tokenizer.json`: a BPE model over the byte-level alphabet, normalizer null or
  /// NFC, and a pre-tokenizer that is ByteLevel (GPT-2 regex), optionally after
  /// `Digits(individual_digits: true)`, or a `Split` with the Llama-3 / Qwen2 regex followed
  /// by ByteLevel without regex. Added tokens keep their `special` flag.
  public init(tokenizerJSON data: Data) throws {
    let root = try Self.jsonObject(data, what: "tokenizer.json")
    guard let model = root["model"] as? [String: Any] else { throw TokenizerError.missing("tokenizer.json \"model\"") }
    guard (model["type"] as? String ?? "BPE") == "BPE" else {
      throw TokenizerError.unsupported("tokenizer.json model type '\(model["type"] ?? "")' (only BPE)")
    }
    if model["byte_fallback"] as? Bool == true { throw TokenizerError.unsupported("BPE byte_fallback (SentencePiece-style vocabularies)") }
    for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
      if let s = model[key] as? String, !s.isEmpty { throw TokenizerError.unsupported("BPE \(key) '\(s)'") }
    }
    if let d = jsonNumber(model["dropout"]), d != 0 { throw TokenizerError.unsupported("BPE dropout") }
    guard let vocab = model["vocab"] as? [String: Any] else { throw TokenizerError.missing("tokenizer.json model.vocab") }

    var added: [AddedToken] = []
    for (i, entry) in (root["added_tokens"] as? [[String: Any]] ?? []).enumerated() {
      guard let id = jsonInteger(entry["id"]), let content = entry["content"] as? String else {
        throw TokenizerError.invalid("tokenizer.json added_tokens[\(i)] needs an id and a content")
      }
      added.append(AddedToken(id: id, content: content, isSpecial: entry["special"] as? Bool ?? false))
    }
    let tokens = try Self.denseVocabulary(vocab, extra: added.map { ($0.id, $0.content) }, what: "tokenizer.json")
    for a in added where tokens[a.id] != a.content {
      throw TokenizerError.invalid("tokenizer.json added token \(a.id) '\(a.content)' differs from vocabulary entry '\(tokens[a.id])'")
    }

    guard let rawMerges = model["merges"] as? [Any] else { throw TokenizerError.missing("tokenizer.json model.merges") }
    guard rawMerges.count <= Self.maxMergeCount else { throw TokenizerError.tooLarge("merge list of \(rawMerges.count) rules") }
    let merges: [(String, String)] = try rawMerges.enumerated().map { i, m in
      if let s = m as? String { return try Self.splitMerge(s, index: i) }
      if let pair = m as? [String], pair.count == 2 { return (pair[0], pair[1]) }
      throw TokenizerError.invalid("tokenizer.json merge rule \(i) is neither \"a b\" nor [\"a\", \"b\"]")
    }

    var nfc = false
    if let normalizer = root["normalizer"] as? [String: Any] {
      guard normalizer["type"] as? String == "NFC" else {
        throw TokenizerError.unsupported("normalizer '\(normalizer["type"] ?? "?")' (only none or NFC)")
      }
      nfc = true
    }
    let pre = try Self.preTokenizer(fromJSON: root["pre_tokenizer"])
    try self.init(tokens: tokens, merges: merges, preTokenizer: pre, addedTokens: added,
                  ignoresMerges: model["ignore_merges"] as? Bool ?? false, normalizesNFC: nfc)
  }

  /// Known split expressions, as tokenizer.json spells them.
  static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
  static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
  static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

  private static func preTokenizer(fromJSON value: Any?) throws -> PreTokenizer {
    guard let node = value as? [String: Any] else { throw TokenizerError.missing("tokenizer.json pre_tokenizer") }
    let steps: [[String: Any]]
    if node["type"] as? String == "Sequence" {
      guard let list = node["pretokenizers"] as? [[String: Any]] else { throw TokenizerError.invalid("tokenizer.json pre_tokenizer Sequence has no list") }
      steps = list
    } else {
      steps = [node]
    }
    var digits = false
    var pattern: PreTokenizer.Pattern?
    var sawByteLevel = false
    for step in steps {
      let type = step["type"] as? String ?? ""
      switch type {
      case "Digits" where step["individual_digits"] as? Bool == true && pattern == nil && !digits:
        digits = true
      case "Split":
        guard pattern == nil, let p = step["pattern"] as? [String: Any], let regex = p["Regex"] as? String,
              (step["behavior"] as? String ?? "Isolated") == "Isolated", step["invert"] as? Bool != true else {
          throw TokenizerError.unsupported("pre-tokenizer Split step \(step)")
        }
        switch regex {
        case llama3Regex: pattern = .llama3
        case qwen2Regex: pattern = .qwen2
        case gpt2Regex: pattern = .gpt2
        default: throw TokenizerError.unsupported("pre-tokenizer split regex \(regex)")
        }
      case "ByteLevel":
        guard !sawByteLevel else { throw TokenizerError.unsupported("pre-tokenizer with two ByteLevel steps") }
        sawByteLevel = true
        if step["add_prefix_space"] as? Bool == true { throw TokenizerError.unsupported("ByteLevel add_prefix_space") }
        if step["use_regex"] as? Bool ?? true {
          guard pattern == nil else { throw TokenizerError.unsupported("ByteLevel regex after a Split step") }
          pattern = .gpt2
        }
      default:
        throw TokenizerError.unsupported("pre-tokenizer step '\(type)'")
      }
    }
    guard sawByteLevel, let pattern else { throw TokenizerError.unsupported("pre-tokenizer without a byte-level split") }
    return PreTokenizer(pattern: pattern, isolatesDigits: digits)
  }

  /// This tokenizer as an HF `tokenizer.json` (UTF-8 JSON) that `tokenizers` and Pare load
  /// back to the same ids.
  public func tokenizerJSON() throws -> Data {
    let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
    var steps: [[String: Any]] = []
    if preTokenizer.isolatesDigits { steps.append(["type": "Digits", "individual_digits": true]) }
    switch preTokenizer.pattern {
    case .gpt2: steps.append(byteLevel)
    case .llama3, .qwen2:
      let regex = preTokenizer.pattern == .llama3 ? Self.llama3Regex : Self.qwen2Regex
      steps.append(["type": "Split", "pattern": ["Regex": regex], "behavior": "Isolated", "invert": false])
      var b = byteLevel
      b["use_regex"] = false
      steps.append(b)
    }
    let pre: [String: Any] = steps.count == 1 ? steps[0] : ["type": "Sequence", "pretokenizers": steps]
    let head: [String: Any] = [
      "version": "1.0",
      "truncation": jsonNull,
      "padding": jsonNull,
      "added_tokens": addedTokens.map {
        ["id": $0.id, "content": $0.content, "single_word": false, "lstrip": false, "rstrip": false,
         "normalized": false, "special": $0.isSpecial] as [String: Any]
      },
      "normalizer": normalizesNFC ? ["type": "NFC"] as Any : jsonNull,
      "pre_tokenizer": pre,
      "post_processor": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true],
      "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
    ]
    // The small fields with sorted keys; the model (vocabulary by id, merges by rank)
    // written directly, in id and rank order.
    guard let headJSON = JSONValue(any: head) else { throw TokenizerError.invalid("tokenizer.json fields are not JSON") }
    var out = Array(headJSON.compactText().utf8)
    out.removeLast()  // "}"
    out += Array(#","model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":"#.utf8)
    out += Array((ignoresMerges ? "true" : "false").utf8)
    out += Array(#","vocab":{"#.utf8)
    let addedIDs = Set(addedTokens.map(\.id))
    var seen = Set<String>()
    var first = true
    for (i, t) in tokens.enumerated() where !addedIDs.contains(i) && seen.insert(t).inserted {
      if !first { out.append(UInt8(ascii: ",")) }
      first = false
      Self.appendJSONString(t, to: &out)
      out += Array(":\(i)".utf8)
    }
    out += Array(#"},"merges":["#.utf8)
    for (r, m) in merges.enumerated() {
      if r > 0 { out.append(UInt8(ascii: ",")) }
      out.append(UInt8(ascii: "["))
      Self.appendJSONString(tokens[m.left], to: &out)
      out.append(UInt8(ascii: ","))
      Self.appendJSONString(tokens[m.right], to: &out)
      out.append(UInt8(ascii: "]"))
    }
    out += Array("]}}".utf8)
    return Data(out)
  }

  /// Appends `s` as a JSON string literal (quotes, backslashes and controls escaped).
  static func appendJSONString(_ s: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for b in s.utf8 {
      switch b {
      case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
      case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
      case 0..<0x20:
        let hex = Array("0123456789abcdef".utf8)
        out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 15)]]
      default: out.append(b)
      }
    }
    out.append(UInt8(ascii: "\""))
  }
}
