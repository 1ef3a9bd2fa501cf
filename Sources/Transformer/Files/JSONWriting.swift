// One-line JSON with sorted keys, for `--json` outputs and the small JSON files Pare writes:
// the text Foundation's `JSONSerialization.data(withJSONObject:options: [.sortedKeys,
// .withoutEscapingSlashes])` gave, written without Foundation (whose JSONSerialization and
// key collation need ICU; see docs/RUNTIME.md "Static binary"). EssentialsTests compares the
// two on the objects `pare` prints.

extension JSONValue {
  /// The value as the `Any` tree `JSONSerialization.jsonObject` gave: `[String: Any]`,
  /// `[Any]`, `String`, `Bool`, `Int` (numbers without fraction or exponent that fit),
  /// `Double`, and `JSONValue.null` for null.
  public var anyValue: Any {
    switch self {
    case .null: return JSONValue.null
    case let .bool(b): return b
    case let .int(i): return i
    case let .double(d): return d
    case let .string(s): return s
    case let .array(a): return a.map(\.anyValue)
    case let .object(o):
      var d: [String: Any] = [:]
      d.reserveCapacity(o.count)
      for m in o { d[m.key] = m.value.anyValue }
      return d
    }
  }
}

/// An integer from an `anyValue` tree: an `Int`, or a `Double` with no fraction.
public func jsonInteger(_ value: Any?) -> Int? {
  if let i = value as? Int { return i }
  if let d = value as? Double, d.rounded() == d, abs(d) < 9e15 { return Int(d) }
  return nil
}

/// A number from an `anyValue` tree.
public func jsonNumber(_ value: Any?) -> Double? {
  if let i = value as? Int { return Double(i) }
  return value as? Double
}

/// JSON `null` inside the `[String: Any]` trees given to `JSONValue(any:)`.
public let jsonNull = JSONValue.null

extension JSONValue {
  /// The JSON value of a tree of `[String: Any]`, `[Any]`, `String`, `Bool`, integers,
  /// `Double`, `Float` and `JSONValue`; nil when it holds anything else or a NaN or Inf.
  /// Object members come out in `jsonKeyPrecedes` order.
  public init?(any value: Any) {
    switch value {
    case let v as JSONValue: self = v
    case let b as Bool: self = .bool(b)
    case let s as String: self = .string(s)
    case let i as Int: self = .int(i)
    case let i as Int32: self = .int(Int(i))
    case let i as Int64: self = .int(Int(i))
    case let i as UInt8: self = .int(Int(i))
    case let i as UInt32: self = .int(Int(i))
    case let i as UInt64:
      guard let v = Int(exactly: i) else { return nil }
      self = .int(v)
    case let d as Double:
      guard d.isFinite else { return nil }
      self = .double(d)
    case let f as Float:
      // Float's own shortest text ("0.1"), as JSONSerialization writes a Float.
      guard f.isFinite, let d = Double("\(f)") else { return nil }
      self = .double(d)
    case let object as [String: Any]:
      var members: [(key: String, value: JSONValue)] = []
      for key in object.keys.sorted(by: jsonKeyPrecedes) {
        guard let v = JSONValue(any: object[key]!) else { return nil }
        members.append((key, v))
      }
      self = .object(members)
    case let array as [Any]:
      var items: [JSONValue] = []
      for element in array {
        guard let v = JSONValue(any: element) else { return nil }
        items.append(v)
      }
      self = .array(items)
    default:
      return nil
    }
  }

  /// Compact JSON (no spaces), members in their stored order, "/" escaped as "\/" only when
  /// asked (JSONSerialization without `.withoutEscapingSlashes`); doubles in Swift's shortest
  /// round-trip form without a trailing ".0" ("1", "0.5", "1e-05", "1e+20").
  public func compactText(escapingSlashes: Bool = false) -> String {
    var out = ""
    writeCompact(into: &out, escapingSlashes: escapingSlashes)
    return out
  }

  private func writeCompact(into out: inout String, escapingSlashes: Bool) {
    switch self {
    case .null: out += "null"
    case let .bool(b): out += b ? "true" : "false"
    case let .int(i): out += String(i)
    case let .double(d):
      var text = "\(d)"
      if text.hasSuffix(".0") { text.removeLast(2) }
      out += text
    case let .string(s): JSONValue.appendCompactQuoted(s, to: &out, escapingSlashes: escapingSlashes)
    case let .array(a):
      out += "["
      for (i, v) in a.enumerated() {
        if i > 0 { out += "," }
        v.writeCompact(into: &out, escapingSlashes: escapingSlashes)
      }
      out += "]"
    case let .object(o):
      out += "{"
      for (i, m) in o.enumerated() {
        if i > 0 { out += "," }
        JSONValue.appendCompactQuoted(m.key, to: &out, escapingSlashes: escapingSlashes)
        out += ":"
        m.value.writeCompact(into: &out, escapingSlashes: escapingSlashes)
      }
      out += "}"
    }
  }

  /// Quotes, backslashes and control characters escaped (\b \f \n \r \t, else \u00xx).
  static func appendCompactQuoted(_ s: String, to out: inout String, escapingSlashes: Bool) {
    out += "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "/" where escapingSlashes: out += "\\/"
      case "\u{8}": out += "\\b"
      case "\u{C}": out += "\\f"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where u.value < 0x20:
        let hex = String(u.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(u)
      }
    }
    out += "\""
  }
}

/// The order of JSONSerialization's `.sortedKeys` on Linux (a numeric, case-insensitive
/// collation) for ASCII keys:
/// - primary: character by character, white space and punctuation (in the collation's order
///   ` _-,;:!?.'"()[]{}@*/\&#%`^+<=>|~$`) before digits before letters, letters compared
///   without case, a run of digits compared as a number ("x9" < "x10"); a key that is a
///   prefix of the other comes first;
/// - then fewer leading zeros first ("x1" < "x01"), then lowercase first ("f16" < "F16"),
///   then by Unicode scalars.
/// Non-ASCII characters sort after ASCII letters by scalar value (the collation would
/// interleave "é" with "e"; the keys Pare writes are ASCII).
public func jsonKeyPrecedes(_ a: String, _ b: String) -> Bool {
  let ka = CollationKey(a), kb = CollationKey(b)
  if ka.primary != kb.primary { return ka.primary.lexicographicallyPrecedes(kb.primary) }
  if ka.zeros != kb.zeros { return ka.zeros.lexicographicallyPrecedes(kb.zeros) }
  if ka.caseBits != kb.caseBits { return ka.caseBits.lexicographicallyPrecedes(kb.caseBits) }
  return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
}

private struct CollationKey {
  /// Comparable primary weights: (class, value) flattened; digit runs as (class, digit
  /// count without leading zeros, digits...).
  var primary: [UInt32] = []
  var zeros: [Int] = []
  var caseBits: [UInt8] = []

  static let punctuation = Array(" _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$".unicodeScalars)

  init(_ s: String) {
    let scalars = Array(s.unicodeScalars)
    var i = 0
    while i < scalars.count {
      let u = scalars[i]
      if u.value >= 0x30 && u.value <= 0x39 {
        var j = i
        while j < scalars.count, scalars[j].value >= 0x30 && scalars[j].value <= 0x39 { j += 1 }
        var digits = scalars[i..<j].map { $0.value - 0x30 }
        var leading = 0
        while digits.count > 1, digits[0] == 0 { digits.removeFirst(); leading += 1 }
        primary.append(2_000)
        primary.append(UInt32(digits.count))
        primary.append(contentsOf: digits)
        zeros.append(leading)
        i = j
        continue
      }
      if let p = Self.punctuation.firstIndex(of: u) {
        primary.append(1_000 + UInt32(p))
      } else if (u.value >= 0x41 && u.value <= 0x5A) || (u.value >= 0x61 && u.value <= 0x7A) {
        let lower = u.value >= 0x41 && u.value <= 0x5A ? u.value + 0x20 : u.value
        primary.append(3_000 + lower)
        caseBits.append(u.value >= 0x41 && u.value <= 0x5A ? 1 : 0)
      } else if u.value < 0x80 {
        primary.append(500 + u.value)  // other ASCII controls: first
      } else {
        primary.append(10_000 + u.value)
      }
      i += 1
    }
  }
}
