// The perplexity protocol's text (DESIGN.md §4): how a dataset file becomes one string.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Joins an evaluation dataset into the single string that is tokenized once.
///
/// - `wikitext`: rows are the file's lines, each keeping its trailing "\n"; a line that is
///   blank (only white space) is the empty row "" (as the HF `wikitext` dataset has it). Rows
///   are joined with "\n\n".
/// - `ptb`: rows are the lines stripped of surrounding white space (HF `ptb_text_only`),
///   joined with "\n\n". A final newline does not start an extra row.
/// - `text`: the file as it is.
///
/// "White space" follows Python's `str.strip()`: Unicode White_Space plus U+001C…U+001F.
public enum EvaluationText {
  public enum Format: String, Sendable, CaseIterable {
    case wikitext, ptb, text
  }

  /// Largest dataset file read.
  public static let maxFileBytes = 1 << 30

  public enum LoadError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case tooLarge(path: String, bytes: Int)
    case notUTF8(path: String)
    /// The file does not look like `format` (see `formatProblem`).
    case wrongFormat(path: String, format: String, detail: String)

    public var description: String {
      switch self {
      case let .unreadable(path, reason): return "cannot read dataset \(path): \(reason)"
      case let .tooLarge(path, bytes): return "dataset \(path) is too large (\(bytes) bytes, limit \(EvaluationText.maxFileBytes))"
      case let .notUTF8(path): return "dataset \(path) is not valid UTF-8 text"
      case let .wrongFormat(path, format, detail): return "dataset \(path) is not --format \(format) text: \(detail)"
      }
    }
  }

  /// Reads `path` and joins it as `format` says.
  public static func load(path: String, format: Format) throws -> String {
    if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > maxFileBytes {
      throw LoadError.tooLarge(path: path, bytes: size)
    }
    let data: Data
    do { data = try Data(readingFile: URL(fileURLWithPath: path)) } catch {
      let reason = FileManager.default.fileExists(atPath: path) ? describeFileError(error) : "no such file"
      throw LoadError.unreadable(path: path, reason: reason)
    }
    guard let text = String(validatingUTF8Data: data) else { throw LoadError.notUTF8(path: path) }
    if let problem = formatProblem(text, format: format) {
      throw LoadError.wrongFormat(path: path, format: format.rawValue, detail: problem)
    }
    return join(text, format: format)
  }

  /// Why `text` cannot be a `format` file, or nil when it can. `text` accepts any UTF-8;
  /// the two corpus formats are recognised by what every line of theirs looks like:
  /// - both: no control characters other than tab, line feed, carriage return, form feed;
  /// - `ptb` (PTB text-only): no upper-case (ASCII) letters, apart from the number token `N`;
  /// - `wikitext`: every non-blank line starts with a space; and the text is not PTB's
  ///   (it has ` = Heading = ` lines or upper-case words other than `N`).
  /// One pass over the UTF-8 bytes (a 10 MB file takes milliseconds).
  public static func formatProblem(_ text: String, format: Format) -> String? {
    guard format != .text else { return nil }
    var copy = text
    return copy.withUTF8 { formatProblem(bytes: $0, format: format) }
  }

  private static func formatProblem(bytes b: UnsafeBufferPointer<UInt8>, format: Format) -> String? {
    var lineNumber = 1, lineStart = 0
    var sawHeading = false, sawUpperCaseWord = false
    var wordStart = 0, wordHasUpper = false
    func blank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0C || c == 0x0B || (0x1C...0x1F).contains(c) }
    func endWord(_ end: Int) -> String? {
      defer { wordHasUpper = false }
      guard wordHasUpper, !(end - wordStart == 1 && b[wordStart] == UInt8(ascii: "N")) else { return nil }
      sawUpperCaseWord = true
      guard format == .ptb else { return nil }
      let word = String(decoding: UnsafeBufferPointer(rebasing: b[wordStart..<min(end, wordStart + 40)]), as: UTF8.self)
      return "line \(lineNumber) has the word '\(word)', but PTB text is lower-case apart from the number token N "
        + "(WikiText? use --format wikitext; other text: --format text)"
    }
    func endLine(_ end: Int) -> String? {
      guard format == .wikitext else { return nil }
      var first = lineStart, last = end
      while first < last && blank(b[first]) { first += 1 }
      while last > first && blank(b[last - 1]) { last -= 1 }
      if first == last { return nil }  // a blank line
      if b[lineStart] != 0x20 {
        return "line \(lineNumber) does not start with a space, as every WikiText line does (plain text? use --format text)"
      }
      if last - first > 4 && b[first] == UInt8(ascii: "=") && b[first + 1] == 0x20
          && b[last - 1] == UInt8(ascii: "=") && b[last - 2] == 0x20 {
        sawHeading = true
      }
      return nil
    }
    for i in 0..<b.count {
      let c = b[i]
      if c == 0x0A || c == 0x20 {
        if let problem = endWord(i) { return problem }
        wordStart = i + 1
        if c == 0x0A {
          if let problem = endLine(i) { return problem }
          lineNumber += 1
          lineStart = i + 1
        }
      } else if c < 0x20 && c != 0x09 && c != 0x0D && c != 0x0C {
        return "line \(lineNumber) holds the control character U+\(String(c, radix: 16, uppercase: true)) (binary data?)"
      } else if c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") {
        wordHasUpper = true
      }
    }
    if let problem = endWord(b.count) ?? endLine(b.count) { return problem }
    if format == .wikitext && b.contains(where: { !blank($0) && $0 != 0x0A }) && !sawHeading && !sawUpperCaseWord {
      return "it has no ' = Heading = ' lines and no upper-case words: it looks like PTB text (use --format ptb)"
    }
    return nil
  }

  /// Joins already-read file contents as `format` says.
  public static func join(_ contents: String, format: Format) -> String {
    switch format {
    case .text:
      return contents
    case .wikitext:
      return lines(contents).map { line in
        line.unicodeScalars.allSatisfy(isStripped) ? "" : String(line) + "\n"
      }.joined(separator: "\n\n")
    case .ptb:
      return lines(contents).map { strip($0) }.joined(separator: "\n\n")
    }
  }

  /// The file's lines without their "\n" (a final "\n" ends the last line, it does not
  /// start an empty one; a last line without "\n" is still a line).
  /// Note: for wikitext, a last line with no "\n" gets one, as every HF row has.
  /// Splits on the byte 0x0A itself (a `Character` split would keep "\r\n" whole).
  static func lines(_ s: String) -> [Substring] {
    var parts = s.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { Substring($0) }
    if parts.last?.isEmpty == true { parts.removeLast() }
    return parts
  }

  /// Python's `str.isspace()` set: White_Space, plus the information separators U+001C…U+001F.
  static func isStripped(_ u: Unicode.Scalar) -> Bool {
    u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
  }

  static func strip(_ s: Substring) -> String {
    let scalars = s.unicodeScalars
    guard let first = scalars.firstIndex(where: { !isStripped($0) }),
          let last = scalars.lastIndex(where: { !isStripped($0) }) else { return "" }
    return String(scalars[first...last])
  }
}

extension String {
  /// The text of `data` when it is well-formed UTF-8, nil otherwise.
  init?(validatingUTF8Data data: Data) {
    let bytes = [UInt8](data)
    guard let s = String(validating: bytes, as: UTF8.self) else { return nil }
    self = s
  }
}
