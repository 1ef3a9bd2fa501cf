// Small stand-ins for the Foundation APIs that FoundationEssentials lacks, so that Pare's
// libraries and the `pare` binary import FoundationEssentials only: full Foundation drags in
// ICU (~47 MB of the static binary) for locale-aware text that Pare never uses. Each
// stand-in gives the same text as the API it replaces for everything Pare prints; the tests
// (EssentialsTests) compare them with Foundation itself. See docs/RUNTIME.md "Static binary".

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

// MARK: - Numbers as text

/// `x` as C's `printf("%W.Pf")` writes it (`width` W, `decimals` P): the same text as
/// `String(format: "%W.Pf", x)`, which hands doubles to the C library's formatter too.
/// Rounding is the C library's: the exact binary value, ties to even.
public func formatFixed(_ x: Double, _ decimals: Int, width: Int = 0) -> String {
  precondition(decimals >= 0 && decimals <= 60 && width >= 0 && width <= 1000, "formatFixed: unreasonable width or precision")
  func render(into buffer: UnsafeMutableBufferPointer<CChar>) -> Int {
    Int(withVaList([Int32(width), Int32(decimals), x]) { vsnprintf(buffer.baseAddress, buffer.count, "%*.*f", $0) })
  }
  var small = [CChar](repeating: 0, count: 64)
  let needed = small.withUnsafeMutableBufferPointer { render(into: $0) }
  if needed < small.count { return String(decoding: small[..<needed].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
  var large = [CChar](repeating: 0, count: needed + 1)
  _ = large.withUnsafeMutableBufferPointer { render(into: $0) }
  return String(decoding: large[..<needed].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `text` right-aligned in `width` columns (printf's `%Ws` / `%Wd`): spaces in front when
/// it is shorter, unchanged when not. Columns are Characters (Pare's columns are ASCII).
public func padLeft(_ text: String, _ width: Int) -> String {
  text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

/// `text` left-aligned in `width` columns: spaces after it when it is shorter, unchanged
/// when not (what `NSString.padding(toLength: max(width, count), …)` gives).
public func padRight(_ text: String, _ width: Int) -> String {
  text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

// MARK: - Strings

extension StringProtocol {
  /// Without leading and trailing horizontal white space: tab and the Unicode space
  /// separators (`trimmingCharacters(in: .whitespaces)`).
  public func trimmingSpaces() -> String {
    let isSpace = { (c: Character) in
      c.unicodeScalars.allSatisfy { $0 == "\t" || $0.properties.generalCategory == .spaceSeparator }
    }
    guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
    return String(self[first...last])
  }

  /// The range of the last occurrence of `pattern` (Characters compared as `==` does).
  public func lastRange(of pattern: String) -> Range<Index>? {
    let p = Array(pattern)
    guard !p.isEmpty else { return nil }
    var end = endIndex
    while true {
      // Walk back |p| characters from `end` and compare.
      var start = end
      var steps = 0
      while steps < p.count, start > startIndex { formIndex(before: &start); steps += 1 }
      guard steps == p.count else { return nil }
      if self[start..<end].elementsEqual(p) { return start..<end }
      formIndex(before: &end)
    }
  }
}

extension String {
  /// Unicode NFC (canonical composition), from the standard library's own normalisation
  /// tables (Foundation's `precomposedStringWithCanonicalMapping` needs ICU).
  public var canonicallyComposed: String { String(decoding: _nfcCodeUnits, as: UTF8.self) }
}

/// `directory` joined with `name` by one "/" (`NSString.appendingPathComponent` for the
/// relative names Pare joins).
public func joinPath(_ directory: String, _ name: String) -> String {
  if directory.isEmpty { return name }
  return directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

// MARK: - Errors and standard streams

/// One line describing a file error: the C library's text for the underlying errno when
/// there is one ("No such file or directory"), else the error's own description.
/// (Foundation's `localizedDescription` needs the localisation machinery.)
public func describeFileError(_ error: any Error) -> String {
  if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
  if let cocoa = error as? CocoaError {
    if let posix = cocoa.userInfo["NSUnderlyingError"] as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
    switch cocoa.code {
    case .fileNoSuchFile, .fileReadNoSuchFile: return "No such file or directory"
    case .fileReadNoPermission, .fileWriteNoPermission: return "Permission denied"
    case .fileWriteOutOfSpace: return "No space left on device"
    default: return "file error \(cocoa.code.rawValue)"
    }
  }
  return "\(error)"
}

/// Writes `bytes` to the file descriptor `fd` at once (no buffering), retrying short and
/// interrupted writes; gives up silently on any other error, as there is nowhere to report it.
func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) {
  let array = Array(bytes)
  array.withUnsafeBytes { raw in
    var offset = 0
    while offset < raw.count {
      let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
      if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
    }
  }
}

/// Writes `text` to standard error at once, unbuffered (what `FileHandle.standardError.write` did).
public func writeStandardError(_ text: String) { writeAll(2, text.utf8) }

/// Writes `bytes` to standard output at once, after flushing what `print` buffered, so the
/// two stay in order (what `FileHandle.standardOutput.write` did).
public func writeStandardOutput(_ bytes: some Collection<UInt8>) {
  fflush(nil)  // every C stream: `print` writes through stdout's buffer
  writeAll(1, bytes)
}
