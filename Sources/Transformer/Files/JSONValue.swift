// A small strict JSON parser for the headers and configs of model files: safetensors
// headers, `config.json`, `model.safetensors.index.json`. Strict means: UTF-8 only, no
// trailing commas or garbage, duplicate object keys refused, nesting depth bounded, and
// integers kept exact (a safetensors offset must not pass through a Double).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A parsed JSON value. Objects keep their keys in file order.
public enum JSONValue: Sendable, Equatable {
  case null
  case bool(Bool)
  /// A number written without fraction or exponent that fits in `Int`.
  case int(Int)
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object([(key: String, value: JSONValue)])

  public static func == (a: JSONValue, b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case let (.bool(x), .bool(y)): return x == y
    case let (.int(x), .int(y)): return x == y
    case let (.double(x), .double(y)): return x == y
    case let (.string(x), .string(y)): return x == y
    case let (.array(x), .array(y)): return x == y
    case let (.object(x), .object(y)):
      return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    default: return false
    }
  }

  /// The member `key` of an object.
  public subscript(key: String) -> JSONValue? {
    guard case let .object(members) = self else { return nil }
    return members.first { $0.key == key }?.value
  }

  public var intValue: Int? {
    switch self {
    case let .int(v): return v
    case let .double(v): return v.rounded() == v && abs(v) < 9e15 ? Int(v) : nil
    default: return nil
    }
  }
  public var doubleValue: Double? {
    switch self {
    case let .int(v): return Double(v)
    case let .double(v): return v
    default: return nil
    }
  }
  public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
  public var boolValue: Bool? { if case let .bool(b) = self { return b } else { return nil } }
  public var arrayValue: [JSONValue]? { if case let .array(a) = self { return a } else { return nil } }
  public var objectValue: [(key: String, value: JSONValue)]? {
    if case let .object(o) = self { return o } else { return nil }
  }
}

/// Why a JSON text was refused, with the byte offset where parsing stopped.
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
  public var message: String
  public var byteOffset: Int
  public var description: String { "\(message) at byte \(byteOffset)" }
}

extension JSONValue {
  /// Deepest nesting of arrays and objects accepted.
  public static let maxDepth = 64

  /// Parses one JSON value filling all of `bytes` (white space around it allowed).
  public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
    let array = Array(bytes)
    var parser = JSONParser(bytes: array)
    let value = try parser.parseDocument()
    return value
  }

  /// Serialises the value: object keys in stored order, `indent` spaces per level (0 = one line).
  public func serialized(indent: Int = 2) -> String {
    var out = ""
    write(into: &out, indent: indent, level: 0)
    return out
  }

  private func write(into out: inout String, indent: Int, level: Int) {
    let newline = indent > 0 ? "\n" : ""
    let pad = { (l: Int) in String(repeating: " ", count: indent * l) }
    switch self {
    case .null: out += "null"
    case let .bool(b): out += b ? "true" : "false"
    case let .int(i): out += String(i)
    case let .double(d):
      out += d.isFinite ? "\(d)" : "null"  // Swift prints "1.0", "1e-05": both valid JSON
    case let .string(s): out += JSONValue.quoted(s)
    case let .array(a):
      if a.isEmpty { out += "[]"; return }
      out += "[" + newline
      for (i, v) in a.enumerated() {
        out += pad(level + 1)
        v.write(into: &out, indent: indent, level: level + 1)
        out += (i + 1 < a.count ? "," : "") + newline
      }
      out += pad(level) + "]"
    case let .object(o):
      if o.isEmpty { out += "{}"; return }
      out += "{" + newline
      for (i, m) in o.enumerated() {
        out += pad(level + 1) + JSONValue.quoted(m.key) + (indent > 0 ? ": " : ":")
        m.value.write(into: &out, indent: indent, level: level + 1)
        out += (i + 1 < o.count ? "," : "") + newline
      }
      out += pad(level) + "}"
    }
  }

  static func quoted(_ s: String) -> String {
    var out = ""
    appendCompactQuoted(s, to: &out, escapingSlashes: false)
    return out
  }
}

private struct JSONParser {
  let bytes: [UInt8]
  var i = 0

  init(bytes: [UInt8]) { self.bytes = bytes }

  func fail(_ message: String) -> JSONParseError { JSONParseError(message: message, byteOffset: i) }

  mutating func skipSpace() {
    while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
  }

  mutating func parseDocument() throws(JSONParseError) -> JSONValue {
    skipSpace()
    let v = try value(depth: 0)
    skipSpace()
    guard i == bytes.count else { throw fail("unexpected text after the JSON value") }
    return v
  }

  mutating func expect(_ word: String, _ v: JSONValue) throws(JSONParseError) -> JSONValue {
    let w = Array(word.utf8)
    guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw fail("invalid literal") }
    i += w.count
    return v
  }

  mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
    guard depth <= JSONValue.maxDepth else { throw fail("JSON nested deeper than \(JSONValue.maxDepth) levels") }
    guard i < bytes.count else { throw fail("unexpected end of JSON") }
    switch bytes[i] {
    case UInt8(ascii: "{"):
      i += 1
      var members: [(key: String, value: JSONValue)] = []
      var seen: Set<String> = []
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
      while true {
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
        let keyAt = i
        let key = try string()
        guard seen.insert(key).inserted else {
          throw JSONParseError(message: "duplicate key \"\(key)\"", byteOffset: keyAt)
        }
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
        i += 1
        skipSpace()
        members.append((key, try value(depth: depth + 1)))
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end of JSON in an object") }
        if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
        if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        throw fail("expected ',' or '}'")
      }
    case UInt8(ascii: "["):
      i += 1
      var items: [JSONValue] = []
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
      while true {
        skipSpace()
        items.append(try value(depth: depth + 1))
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end of JSON in an array") }
        if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
        if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        throw fail("expected ',' or ']'")
      }
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"): return try expect("true", .bool(true))
    case UInt8(ascii: "f"): return try expect("false", .bool(false))
    case UInt8(ascii: "n"): return try expect("null", .null)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
    default: throw fail("unexpected character")
    }
  }

  mutating func number() throws(JSONParseError) -> JSONValue {
    let start = i
    var isInteger = true
    if bytes[i] == UInt8(ascii: "-") { i += 1 }
    func digits(_ p: inout JSONParser) -> Int {
      let s = p.i
      while p.i < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.i]) { p.i += 1 }
      return p.i - s
    }
    let intDigits = digits(&self)
    guard intDigits > 0 else { throw fail("invalid number") }
    if intDigits > 1, bytes[i - intDigits] == UInt8(ascii: "0") { throw fail("number with a leading zero") }
    if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
      isInteger = false
      i += 1
      guard digits(&self) > 0 else { throw fail("invalid number") }
    }
    if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
      isInteger = false
      i += 1
      if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
      guard digits(&self) > 0 else { throw fail("invalid number") }
    }
    let text = String(decoding: bytes[start..<i], as: UTF8.self)
    if isInteger, let v = Int(text) { return .int(v) }
    guard let d = Double(text) else { throw JSONParseError(message: "invalid number", byteOffset: start) }
    return .double(d)
  }

  mutating func hex4() throws(JSONParseError) -> UInt32 {
    guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
    var v: UInt32 = 0
    for _ in 0..<4 {
      let c = bytes[i]
      let d: UInt32
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
      default: throw fail("invalid \\u escape")
      }
      v = v << 4 | d
      i += 1
    }
    return v
  }

  mutating func string() throws(JSONParseError) -> String {
    i += 1  // opening quote
    var scalars = String.UnicodeScalarView()
    var runStart = i
    func flush(_ p: JSONParser, _ start: Int, into out: inout String.UnicodeScalarView) throws(JSONParseError) {
      guard start < p.i else { return }
      guard let s = String(validating: p.bytes[start..<p.i], as: UTF8.self) else {
        throw JSONParseError(message: "string is not valid UTF-8", byteOffset: start)
      }
      out.append(contentsOf: s.unicodeScalars)
    }
    while true {
      guard i < bytes.count else { throw fail("unterminated string") }
      let c = bytes[i]
      if c == UInt8(ascii: "\"") {
        try flush(self, runStart, into: &scalars)
        i += 1
        return String(scalars)
      }
      if c < 0x20 { throw fail("control character in a string") }
      if c != UInt8(ascii: "\\") { i += 1; continue }
      try flush(self, runStart, into: &scalars)
      i += 1
      guard i < bytes.count else { throw fail("unterminated escape") }
      let e = bytes[i]
      i += 1
      switch e {
      case UInt8(ascii: "\""): scalars.append("\"")
      case UInt8(ascii: "\\"): scalars.append("\\")
      case UInt8(ascii: "/"): scalars.append("/")
      case UInt8(ascii: "b"): scalars.append("\u{8}")
      case UInt8(ascii: "f"): scalars.append("\u{c}")
      case UInt8(ascii: "n"): scalars.append("\n")
      case UInt8(ascii: "r"): scalars.append("\r")
      case UInt8(ascii: "t"): scalars.append("\t")
      case UInt8(ascii: "u"):
        var v = try hex4()
        if (0xD800..<0xDC00).contains(v) {
          guard i + 2 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
            throw fail("unpaired surrogate")
          }
          i += 2
          let low = try hex4()
          guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
          v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let u = Unicode.Scalar(v) else { throw fail("unpaired surrogate") }
        scalars.append(u)
      default: throw fail("invalid escape")
      }
      runStart = i
    }
  }
}
