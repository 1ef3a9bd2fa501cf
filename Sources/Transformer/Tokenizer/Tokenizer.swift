/// A byte-level BPE tokenizer (GPT-2 family: GPT-2, Llama-3, Qwen2, SmolLM2, …).
///
/// Encoding: text → (added tokens cut out) → pre-tokenizer pieces → UTF-8 bytes of each
/// piece → one symbol per byte → BPE merges by rank → ids. Decoding: ids → bytes → String
/// (ill-formed UTF-8 becomes U+FFFD, one per maximal ill-formed subsequence).
///
/// Special tokens (control tokens such as `<|endoftext|>`) are produced only when
/// `allowSpecialTokens` is true; otherwise their text is encoded like any other text.
/// Non-special added tokens (GGUF "user defined") always match, as in HF and llama.cpp.
/// A byte whose single-byte token is absent from the vocabulary is dropped (HF BPE with no
/// unknown token does the same); SmolLM2's vocabulary lacks 21 such bytes.
public struct Tokenizer: Sendable {
  /// Largest vocabulary accepted from a file.
  public static let maxVocabularySize = 1 << 22
  /// Largest merge list accepted from a file.
  public static let maxMergeCount = 1 << 22
  /// Longest token (in bytes) accepted from a file.
  public static let maxTokenBytes = 1 << 16

  /// A token matched as a whole before pre-tokenisation.
  public struct AddedToken: Sendable, Equatable {
    public var id: Int
    public var content: String
    /// Control tokens: matched only when encoding with `allowSpecialTokens`.
    public var isSpecial: Bool
    public init(id: Int, content: String, isSpecial: Bool) {
      self.id = id
      self.content = content
      self.isSpecial = isSpecial
    }
  }

  /// Token strings by id, spelt as in the vocabulary (byte-level alphabet).
  public let tokens: [String]
  /// Merge rules by rank, as (left id, right id).
  public let merges: [(left: Int, right: Int)]
  public let preTokenizer: PreTokenizer
  public let addedTokens: [AddedToken]
  /// When true, a piece that is itself a token is emitted without merging (Llama-3).
  public let ignoresMerges: Bool
  /// Apply Unicode NFC to the text first (tokenizer.json `"normalizer": {"type": "NFC"}`).
  public let normalizesNFC: Bool
  public var beginOfSequenceID: Int?
  public var endOfSequenceID: Int?

  let tokenBytes: [[UInt8]]
  let vocabulary: [String: Int32]
  /// Id of each byte's single-byte token, or -1.
  let byteTokens: [Int32]
  let table: MergeTable
  /// Whole-piece lookup for `ignoresMerges`.
  let tokenForBytes: [[UInt8]: Int32]
  /// Added tokens as scalar arrays, longest first, by first scalar.
  let addedByFirstScalar: [UInt32: [(scalars: [UInt32], id: Int32, special: Bool)]]
  /// Does an added token start with this ASCII scalar? (Skips the lookup for most text.)
  let addedFirstASCII: [Bool]
  let hasNonSpecialAddedTokens: Bool
  /// No added token contains a pair where `isCut` would cut.
  let canCutAtNewlines: Bool

  public var vocabularySize: Int { tokens.count }

  /// Builds a tokenizer from a vocabulary (index = id) and merge rules by rank, each rule
  /// spelt as two vocabulary tokens. Every rule's parts and their concatenation must be
  /// tokens. Added tokens must name ids inside the vocabulary.
  public init(tokens: [String], merges: [(String, String)], preTokenizer: PreTokenizer,
              addedTokens: [AddedToken] = [], ignoresMerges: Bool = false,
              normalizesNFC: Bool = false,
              beginOfSequenceID: Int? = nil, endOfSequenceID: Int? = nil) throws {
    guard tokens.count <= Self.maxVocabularySize else { throw TokenizerError.tooLarge("vocabulary of \(tokens.count) tokens") }
    guard merges.count <= Self.maxMergeCount else { throw TokenizerError.tooLarge("merge list of \(merges.count) rules") }
    self.tokens = tokens
    self.preTokenizer = preTokenizer
    self.addedTokens = addedTokens
    self.ignoresMerges = ignoresMerges
    self.normalizesNFC = normalizesNFC
    self.beginOfSequenceID = beginOfSequenceID
    self.endOfSequenceID = endOfSequenceID

    var vocabulary = [String: Int32](minimumCapacity: tokens.count)
    for (i, t) in tokens.enumerated() where vocabulary[t] == nil { vocabulary[t] = Int32(i) }
    self.vocabulary = vocabulary

    var addedIDs = Set<Int>()
    var byFirst: [UInt32: [(scalars: [UInt32], id: Int32, special: Bool)]] = [:]
    for a in addedTokens {
      guard a.id >= 0 && a.id < tokens.count else {
        throw TokenizerError.invalid("added token '\(a.content)' has id \(a.id) outside the vocabulary (0..<\(tokens.count))")
      }
      let scalars = a.content.unicodeScalars.map(\.value)
      guard let first = scalars.first else { throw TokenizerError.invalid("added token \(a.id) is empty") }
      addedIDs.insert(a.id)
      byFirst[first, default: []].append((scalars, Int32(a.id), a.isSpecial))
    }
    for k in byFirst.keys { byFirst[k]!.sort { $0.scalars.count > $1.scalars.count } }
    addedByFirstScalar = byFirst
    addedFirstASCII = (0..<128).map { byFirst[UInt32($0)] != nil }
    hasNonSpecialAddedTokens = addedTokens.contains { !$0.isSpecial }
    canCutAtNewlines = !addedTokens.contains { a in
      let b = Array(a.content.utf8)
      return b.indices.dropFirst().contains { Self.isCut(b[$0 - 1], b[$0]) }
    }

    var bytes: [[UInt8]] = []
    bytes.reserveCapacity(tokens.count)
    var byteTokens = [Int32](repeating: -1, count: 256)
    var tokenForBytes: [[UInt8]: Int32] = [:]
    for (i, t) in tokens.enumerated() {
      guard t.utf8.count <= Self.maxTokenBytes else { throw TokenizerError.tooLarge("token \(i)") }
      let b: [UInt8]
      if addedIDs.contains(i) {
        b = Array(t.utf8)
      } else if let d = ByteLevel.decode(t) {
        b = d
        if d.count == 1 && byteTokens[Int(d[0])] < 0 { byteTokens[Int(d[0])] = Int32(i) }
        if ignoresMerges && tokenForBytes[d] == nil { tokenForBytes[d] = Int32(i) }
      } else {
        b = Array(t.utf8)
      }
      bytes.append(b)
    }
    tokenBytes = bytes
    self.byteTokens = byteTokens
    self.tokenForBytes = tokenForBytes

    var table = MergeTable(capacityFor: merges.count)
    var pairs: [(left: Int, right: Int)] = []
    pairs.reserveCapacity(merges.count)
    for (rank, m) in merges.enumerated() {
      guard let l = vocabulary[m.0], let r = vocabulary[m.1] else {
        throw TokenizerError.invalid("merge rule \(rank) ('\(m.0) \(m.1)') names a token that is not in the vocabulary")
      }
      guard let merged = vocabulary[m.0 + m.1] else {
        throw TokenizerError.invalid("merge rule \(rank) ('\(m.0) \(m.1)') makes a token that is not in the vocabulary")
      }
      table.insert(left: l, right: r, rank: Int32(rank), merged: merged)
      pairs.append((Int(l), Int(r)))
    }
    self.table = table
    self.merges = pairs
  }

  // MARK: - Lookup

  /// The id of a token spelt as in the vocabulary.
  public func id(forToken token: String) -> Int? { vocabulary[token].map(Int.init) }

  /// The bytes token `id` stands for.
  public func bytes(forToken id: Int) -> [UInt8]? { id >= 0 && id < tokens.count ? tokenBytes[id] : nil }

  /// Is `id` a special (control) added token?
  public func isSpecial(_ id: Int) -> Bool { addedTokens.contains { $0.id == id && $0.isSpecial } }

  // MARK: - Encoding

  /// Token ids of `text` (no BOS/EOS added).
  public func encode(_ text: String, allowSpecialTokens: Bool = false) -> [Int] {
    encodeIDs(text, allowSpecialTokens: allowSpecialTokens).map(Int.init)
  }

  /// Default size of the stretches `encodeIDs` works on (see `encodeIDs`).
  public static let segmentBytes = 1 << 20

  /// Same as `encode`, as 32-bit ids.
  ///
  /// The text is handled in stretches of about `segmentBytes` bytes, so the working arrays
  /// (about 14 bytes per text byte) stay small for big inputs. A stretch ends only between an
  /// ASCII letter and a following space or "\n": every supported pattern ends a piece there
  /// (a letter run or contraction cannot take in white space), and since the scalar before the
  /// cut is not white space, no `\s+(?!\S)` lookahead can see across it. When an added token
  /// contains such a pair, the text is not cut. The ids never depend on `segmentBytes`.
  public func encodeIDs(_ text: String, allowSpecialTokens: Bool = false, segmentBytes: Int = Tokenizer.segmentBytes) -> [Int32] {
    let source = normalizesNFC ? text.precomposedForTokenizer : text
    let bytes = Array(source.utf8)
    var out: [Int32] = []
    out.reserveCapacity(bytes.count / 3)
    var cache = PieceCache()
    var scratch = MergeScratch()
    var start = 0
    while start < bytes.count {
      var end = bytes.count
      if canCutAtNewlines && bytes.count - start > max(segmentBytes, 1) {
        var k = start + max(segmentBytes, 1)
        while k < bytes.count && !Self.isCut(bytes[k - 1], bytes[k]) { k += 1 }
        end = k
      }
      let t = ScalarText(utf8: Array(bytes[start..<end]))
      encodeSegment(t, allowSpecialTokens, &cache, &scratch, &out)
      start = end
    }
    return out
  }

  /// May a stretch end between bytes `a` and `b`? (An ASCII letter, then a space or "\n".)
  @inline(__always)
  static func isCut(_ a: UInt8, _ b: UInt8) -> Bool {
    (b == 0x20 || b == 0x0A) && (a | 0x20) >= 0x61 && (a | 0x20) <= 0x7A
  }

  /// Added tokens, then pre-tokenizer pieces, of one stretch.
  private func encodeSegment(_ t: ScalarText, _ allowSpecialTokens: Bool, _ cache: inout PieceCache,
                             _ symbols: inout MergeScratch, _ out: inout [Int32]) {
    let n = t.scalars.count
    var start = 0
    if allowSpecialTokens ? !addedByFirstScalar.isEmpty : hasNonSpecialAddedTokens {
      var i = 0
      while i < n {
        let v = t.scalars[i]
        if v < 128 && !addedFirstASCII[Int(v)] { i += 1; continue }
        if let candidates = addedByFirstScalar[v],
           let match = candidates.first(where: { ($0.special ? allowSpecialTokens : true) && matches($0.scalars, t.scalars, at: i) }) {
          if start < i { encodeStretch(t, start..<i, &cache, &symbols, &out) }
          out.append(match.id)
          i += match.scalars.count
          start = i
        } else {
          i += 1
        }
      }
    }
    if start < n { encodeStretch(t, start..<n, &cache, &symbols, &out) }
  }

  private func matches(_ needle: [UInt32], _ hay: [UInt32], at i: Int) -> Bool {
    guard i + needle.count <= hay.count else { return false }
    for k in 0..<needle.count where hay[i + k] != needle[k] { return false }
    return true
  }

  private func encodeStretch(_ t: ScalarText, _ range: Range<Int>, _ cache: inout PieceCache,
                             _ symbols: inout MergeScratch, _ out: inout [Int32]) {
    preTokenizer.pieces(t, in: range) { piece in
      let lo = t.offsets[piece.lowerBound], hi = t.offsets[piece.upperBound]
      encodePiece(t.bytes, lo..<hi, &cache, &symbols, &out)
    }
  }

  /// BPE on the bytes `bytes[range]` of one piece, through the cache.
  @inline(__always)
  private func encodePiece(_ bytes: [UInt8], _ range: Range<Int>, _ cache: inout PieceCache,
                           _ scratch: inout MergeScratch, _ out: inout [Int32]) {
    if range.count == 1, byteTokens[Int(bytes[range.lowerBound])] >= 0 {
      out.append(byteTokens[Int(bytes[range.lowerBound])])
      return
    }
    let key = PieceKey(bytes[range])
    if let hit = cache.ids[key] {
      out.append(contentsOf: cache.store[Int(hit.start)..<Int(hit.start + hit.count)])
      return
    }
    let before = out.count
    if ignoresMerges, let whole = tokenForBytes[Array(bytes[range])] {
      out.append(whole)
    } else {
      scratch.symbols.removeAll(keepingCapacity: true)
      for i in range {
        let s = byteTokens[Int(bytes[i])]
        if s >= 0 { scratch.symbols.append(s) }
      }
      BPE.merge(&scratch, table, into: &out)
    }
    cache.insert(key, out[before...])
  }

  /// The three implementations of byte-pair merging (see BPE.swift); `encode` uses
  /// `rankArray` for short pieces and `heap` for long ones. Public for tests and benchmarks.
  public enum MergeAlgorithm: Sendable, CaseIterable {
    /// Plain quadratic scan: the ground truth.
    case reference
    /// Pair ranks cached in an array: O(n) per merge.
    case rankArray
    /// Binary heap over a linked list: O(n log n).
    case heap
  }

  /// BPE merges of `bytes` taken as one piece (no pre-tokenisation, no cache), by `algorithm`.
  public func merge(bytes: [UInt8], algorithm: MergeAlgorithm) -> [Int] {
    let symbols = bytes.compactMap { byteTokens[Int($0)] >= 0 ? byteTokens[Int($0)] : nil }
    let out: [Int32]
    switch algorithm {
    case .reference: out = BPE.mergeReference(symbols, table)
    case .rankArray:
      var s = symbols
      BPE.mergeShort(&s, table)
      out = s
    case .heap: out = symbols.count < 2 ? symbols : BPE.mergeLong(symbols, table)
    }
    return out.map(Int.init)
  }

  // MARK: - Decoding

  /// The bytes of `ids`, concatenated. Special tokens give their text unless skipped.
  public func decodeBytes(_ ids: [Int], skipSpecialTokens: Bool = false) throws -> [UInt8] {
    var out: [UInt8] = []
    let special = skipSpecialTokens ? Set(addedTokens.filter(\.isSpecial).map(\.id)) : []
    for id in ids {
      guard id >= 0 && id < tokens.count else { throw TokenizerError.unknownTokenID(id, vocabularySize: tokens.count) }
      if special.contains(id) { continue }
      out.append(contentsOf: tokenBytes[id])
    }
    return out
  }

  /// The text of `ids`; ill-formed UTF-8 is replaced by U+FFFD.
  public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) throws -> String {
    String(decoding: try decodeBytes(ids, skipSpecialTokens: skipSpecialTokens), as: UTF8.self)
  }
}

/// Cache key: a piece's bytes with a precomputed FNV-1a hash.
struct PieceKey: Hashable {
  let hash: UInt64
  let bytes: ArraySlice<UInt8>

  @inline(__always)
  init(_ bytes: ArraySlice<UInt8>) {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    self.hash = h
    self.bytes = bytes
  }

  func hash(into hasher: inout Hasher) { hasher.combine(hash) }
  static func == (a: PieceKey, b: PieceKey) -> Bool { a.hash == b.hash && a.bytes.elementsEqual(b.bytes) }
}

/// Ids of pieces already encoded during one `encode` call (repeated words are common).
/// Bounded: it is emptied when it holds `limit` pieces.
struct PieceCache {
  static let limit = 1 << 16
  var ids: [PieceKey: (start: Int32, count: Int32)] = [:]
  var store: [Int32] = []

  mutating func insert(_ key: PieceKey, _ value: ArraySlice<Int32>) {
    if ids.count >= Self.limit { ids.removeAll(keepingCapacity: true); store.removeAll(keepingCapacity: true) }
    ids[key] = (Int32(store.count), Int32(value.count))
    store.append(contentsOf: value)
  }
}
