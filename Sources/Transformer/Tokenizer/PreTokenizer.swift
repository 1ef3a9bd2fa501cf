/// Pre-tokenisation: cutting text into the pieces that BPE encodes one by one.
///
/// Byte-level BPE tokenizers split text with a regular expression before merging. Pare uses
/// hand-written scanners that give exactly the pieces of these expressions (leftmost-first
/// alternation, greedy quantifiers, code-point semantics, the lookahead in `\s+(?!\S)`):
///
/// - `gpt2` (GPT-2, and SmolLM2/StarCoder after the digit split):
///   `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// - `llama3` (Llama-3, "llama-bpe"), and `qwen2` which differs only by `\p{N}` for `\p{N}{1,3}`:
///   `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
///   (case-insensitive contractions: ASCII case, and `ſ` U+017F, which folds to `s` in HF's
///   Oniguruma; llama.cpp's rewrite `'[sS]` misses that one).
///
/// Classes: `\p{L}` = general categories Lu Ll Lt Lm Lo; `\p{N}` = Nd Nl No; `\s` = the
/// Unicode White_Space property (Oniguruma's `\s`: U+0009–000D, U+0085, Zs, Zl, Zp).
/// With `isolatesDigits` (HF `Digits(individual_digits: true)`, llama.cpp's leading `\p{N}`
/// expression) every `\p{N}` scalar is first cut out as its own piece, and the pattern then
/// runs on each stretch between digits separately: its lookahead never sees past a stretch.
///
/// Unicode versions. HF's regex engine (Oniguruma inside `tokenizers` 0.23) knows Unicode
/// 16.0, while its `Digits` step uses Rust's `char::is_numeric` (Unicode 17.0). The standard
/// library may know a newer version, so a scalar assigned later than those versions counts as
/// unassigned (neither letter nor number) for the regex, and as no digit for `Digits`: see
/// `CharacterClass.regexUnicodeVersion` and `digitsUnicodeVersion`. (Measured by
/// scripts/tokenizer-goldens.py's differential fixture, which includes random code points.)
public struct PreTokenizer: Sendable, Equatable {
  /// The split expression.
  public enum Pattern: String, Sendable, Equatable, CaseIterable {
    case gpt2, llama3, qwen2
  }

  public var pattern: Pattern
  /// Cut every number scalar out on its own before applying `pattern`.
  public var isolatesDigits: Bool

  public init(pattern: Pattern, isolatesDigits: Bool = false) {
    self.pattern = pattern
    self.isolatesDigits = isolatesDigits
  }

  /// The pre-tokenizer that llama.cpp associates with a GGUF `tokenizer.ggml.pre` name.
  public init(ggmlName name: String) throws {
    switch name {
    case "gpt-2", "gpt2", "default", "phi-2", "jais", "roberta-bpe", "mpt", "olmo", "stablelm2":
      self.init(pattern: .gpt2)
    case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
      self.init(pattern: .gpt2, isolatesDigits: true)
    case "llama-bpe", "llama3", "llama-v3", "smaug-bpe", "falcon3", "pixtral", "dbrx":
      self.init(pattern: .llama3)
    case "qwen2", "deepseek-r1-qwen", "megrez", "stablelm", "hunyuan":
      self.init(pattern: .qwen2)
    default:
      throw TokenizerError.unsupported("pre-tokenizer '\(name)' (known: gpt-2, smollm, starcoder, llama-bpe, qwen2, …)")
    }
  }

  /// The pieces of `text`, in order; they concatenate to `text`.
  public func split(_ text: String) -> [String] {
    let t = ScalarText(utf8: Array(text.utf8))
    var out: [String] = []
    pieces(t, in: 0..<t.scalars.count) { r in
      out.append(String(decoding: t.bytes[t.offsets[r.lowerBound]..<t.offsets[r.upperBound]], as: UTF8.self))
    }
    return out
  }

  /// The piece boundaries of `text`, as ranges of scalar indices into `text.scalars`.
  /// Pieces are contiguous and cover the text exactly.
  func pieces(_ text: ScalarText, in range: Range<Int>, _ body: (Range<Int>) -> Void) {
    guard isolatesDigits else { split(text, range, body); return }
    var start = range.lowerBound
    for i in range where text.classes[i] & CharacterClass.isolatedDigit != 0 {
      if start < i { split(text, start..<i, body) }
      body(i..<(i + 1))
      start = i + 1
    }
    if start < range.upperBound { split(text, start..<range.upperBound, body) }
  }

  /// Applies the pattern to one stretch (the regex sees nothing outside `range`).
  private func split(_ text: ScalarText, _ range: Range<Int>, _ body: (Range<Int>) -> Void) {
    var i = range.lowerBound
    let end = range.upperBound
    while i < end {
      let next: Int
      switch pattern {
      case .gpt2: next = Self.gpt2PieceEnd(text, i, end)
      case .llama3: next = Self.llamaPieceEnd(text, i, end, maxDigits: 3)
      case .qwen2: next = Self.llamaPieceEnd(text, i, end, maxDigits: 1)
      }
      body(i..<next)
      i = next
    }
  }

  /// Length of an English contraction at `i` (`'s 't 're 've 'm 'll 'd`), or 0.
  @inline(__always)
  static func contractionLength(_ s: [UInt32], _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int {
    guard s[i] == 0x27, i + 1 < end else { return 0 }
    // Case folding as Oniguruma's (?i) does for these letters: ASCII, plus U+017F ſ → s.
    @inline(__always) func fold(_ v: UInt32) -> UInt32 {
      guard caseInsensitive else { return v }
      if v >= 0x41 && v <= 0x5A { return v + 0x20 }
      return v == 0x17F ? 0x73 : v
    }
    let a = fold(s[i + 1])
    switch a {
    case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
    case 0x72, 0x76:  // r v: 're 've
      return i + 2 < end && fold(s[i + 2]) == 0x65 ? 3 : 0
    case 0x6C:  // l: 'll
      return i + 2 < end && fold(s[i + 2]) == 0x6C ? 3 : 0
    default: return 0
    }
  }

  /// End of the run of scalars from `i` whose class has any bit of `mask`.
  @inline(__always)
  static func run(_ c: [UInt8], _ i: Int, _ end: Int, _ mask: UInt8) -> Int {
    var k = i
    while k < end && c[k] & mask != 0 { k += 1 }
    return k
  }

  /// End of the run of "other" scalars (`[^\s\p{L}\p{N}]`) from `i`.
  @inline(__always)
  static func otherRun(_ c: [UInt8], _ i: Int, _ end: Int) -> Int {
    var k = i
    while k < end && c[k] & CharacterClass.letterNumberSpace == 0 { k += 1 }
    return k
  }

  /// `\s+(?!\S)|\s+` at `i` (a white-space scalar): the run, less its last scalar when a
  /// non-space follows and the run is longer than one.
  @inline(__always)
  static func whitespaceEnd(_ c: [UInt8], _ i: Int, _ end: Int) -> Int {
    let k = run(c, i, end, CharacterClass.whitespace)
    if k == end || k - i == 1 { return k }
    return k - 1
  }

  /// One GPT-2 piece starting at `i`; returns its end.
  static func gpt2PieceEnd(_ t: ScalarText, _ i: Int, _ end: Int) -> Int {
    let c = t.classes
    let ci = c[i]
    if ci & CharacterClass.apostrophe != 0 {
      let n = contractionLength(t.scalars, i, end, caseInsensitive: false)
      if n > 0 { return i + n }
    }
    // ` ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+`
    let j = (ci & CharacterClass.space != 0 && i + 1 < end) ? i + 1 : i
    let cj = c[j]
    if cj & CharacterClass.letter != 0 { return run(c, j, end, CharacterClass.letter) }
    if cj & CharacterClass.number != 0 { return run(c, j, end, CharacterClass.number) }
    if cj & CharacterClass.letterNumberSpace == 0 { return otherRun(c, j, end) }
    if ci & CharacterClass.whitespace == 0 {
      // Unreachable: a scalar is a letter, a number, white space or other.
      return i + 1
    }
    return whitespaceEnd(c, i, end)
  }

  /// One Llama-3 / Qwen2 piece starting at `i`; returns its end.
  static func llamaPieceEnd(_ t: ScalarText, _ i: Int, _ end: Int, maxDigits: Int) -> Int {
    let c = t.classes
    let ci = c[i]
    if ci & CharacterClass.apostrophe != 0 {
      let n = contractionLength(t.scalars, i, end, caseInsensitive: true)
      if n > 0 { return i + n }
    }
    // `[^\r\n\p{L}\p{N}]?\p{L}+`
    if ci & CharacterClass.letter != 0 { return run(c, i, end, CharacterClass.letter) }
    if ci & (CharacterClass.newline | CharacterClass.number) == 0, i + 1 < end,
       c[i + 1] & CharacterClass.letter != 0 {
      return run(c, i + 1, end, CharacterClass.letter)
    }
    // `\p{N}{1,3}` (or `\p{N}`)
    if ci & CharacterClass.number != 0 {
      var k = i + 1
      while k < end && k - i < maxDigits && c[k] & CharacterClass.number != 0 { k += 1 }
      return k
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let j = (ci & CharacterClass.space != 0 && i + 1 < end
             && c[i + 1] & CharacterClass.letterNumberSpace == 0) ? i + 1 : i
    if c[j] & CharacterClass.letterNumberSpace == 0 {
      let k = otherRun(c, j, end)
      return run(c, k, end, CharacterClass.newline)
    }
    // `\s*[\r\n]+`: white space up to and including the run's last CR/LF.
    let k = run(c, i, end, CharacterClass.whitespace)
    var p = k - 1
    while p >= i && c[p] & CharacterClass.newline == 0 { p -= 1 }
    if p >= i { return p + 1 }
    // `\s+(?!\S)|\s+`
    if k == end || k - i == 1 { return k }
    return k - 1
  }
}

/// Bit flags describing one Unicode scalar for the scanners.
enum CharacterClass {
  static let letter: UInt8 = 1        // \p{L} in the regex's Unicode version
  static let number: UInt8 = 2        // \p{N} in the regex's Unicode version
  static let whitespace: UInt8 = 4    // \s
  static let newline: UInt8 = 8       // \r or \n
  static let space: UInt8 = 16        // U+0020
  static let apostrophe: UInt8 = 32   // U+0027
  static let isolatedDigit: UInt8 = 64  // cut out by HF `Digits`: Nd Nl No in Rust's Unicode version
  static let letterNumberSpace: UInt8 = letter | number | whitespace

  /// The Unicode version of `\p{L}`/`\p{N}` in HF's regex engine (Oniguruma in tokenizers 0.23).
  static let regexUnicodeVersion = (major: 16, minor: 0)
  /// The Unicode version of `char::is_numeric` in HF's `Digits` pre-tokenizer.
  static let digitsUnicodeVersion = (major: 17, minor: 0)

  /// Classes of the ASCII scalars.
  static let ascii: [UInt8] = (0..<128).map { classify(Unicode.Scalar(UInt8($0))) }

  /// The class of any scalar, from the Unicode properties of the standard library, limited
  /// to the versions above.
  static func classify(_ u: Unicode.Scalar) -> UInt8 {
    var f: UInt8 = 0
    let p = u.properties
    switch p.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
      if assigned(p, by: regexUnicodeVersion) { f |= letter }
    case .decimalNumber, .letterNumber, .otherNumber:
      if assigned(p, by: regexUnicodeVersion) { f |= number }
      if assigned(p, by: digitsUnicodeVersion) { f |= isolatedDigit }
    default: break
    }
    if p.isWhitespace { f |= whitespace }
    if u.value == 0x0A || u.value == 0x0D { f |= newline }
    if u.value == 0x20 { f |= space }
    if u.value == 0x27 { f |= apostrophe }
    return f
  }

  /// Was the scalar assigned in Unicode `version` or earlier?
  private static func assigned(_ p: Unicode.Scalar.Properties, by version: (major: Int, minor: Int)) -> Bool {
    guard let age = p.age else { return false }
    return age.major < version.major || (age.major == version.major && age.minor <= version.minor)
  }

  /// Class of `v`, with ASCII from the table.
  @inline(__always)
  static func of(_ v: UInt32) -> UInt8 {
    v < 128 ? ascii[Int(v)] : classify(Unicode.Scalar(v)!)
  }
}

/// A text as parallel arrays over its Unicode scalars, the form the scanners read.
///
/// n = number of scalars. `scalars[i]` is scalar i, `classes[i]` its `CharacterClass` bits,
/// and `offsets[i]` the UTF-8 byte offset where it starts (`offsets[n]` = byte count).
struct ScalarText {
  var bytes: [UInt8]
  var scalars: [UInt32] = []
  var classes: [UInt8] = []
  var offsets: [Int] = []

  /// Decodes valid UTF-8 (a Swift `String`'s bytes).
  init(utf8 bytes: [UInt8]) {
    self.bytes = bytes
    let n = bytes.count
    scalars.reserveCapacity(n)
    classes.reserveCapacity(n)
    offsets.reserveCapacity(n + 1)
    var i = 0
    var lastClass: (UInt32, UInt8) = (UInt32.max, 0)
    while i < n {
      let b0 = UInt32(bytes[i])
      offsets.append(i)
      if b0 < 0x80 {
        scalars.append(b0)
        classes.append(CharacterClass.ascii[Int(b0)])
        i += 1
        continue
      }
      var v: UInt32
      let len: Int
      if b0 < 0xE0 { v = b0 & 0x1F; len = 2 } else if b0 < 0xF0 { v = b0 & 0x0F; len = 3 } else { v = b0 & 0x07; len = 4 }
      for k in 1..<len { v = (v << 6) | (UInt32(bytes[i + k]) & 0x3F) }
      scalars.append(v)
      if v != lastClass.0 { lastClass = (v, CharacterClass.of(v)) }
      classes.append(lastClass.1)
      i += len
    }
    offsets.append(n)
  }
}
