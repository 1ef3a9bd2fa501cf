/// GPT-2's byte-to-unicode alphabet.
///
/// Byte-level BPE vocabularies spell every token with 256 printable Unicode scalars, one per
/// byte: the printable Latin-1 bytes `!`…`~`, `¡`…`¬`, `®`…`ÿ` stand for themselves, and the
/// remaining 68 bytes (controls, space, 0x7F–0xA0, 0xAD) map, in increasing byte order, to
/// U+0100, U+0101, … U+0143. So the space 0x20 is `Ġ` (U+0120) and `\n` 0x0A is `Ċ` (U+010A).
public enum ByteLevel {
  /// `scalar[b]` is the Unicode scalar value that spells byte `b`.
  public static let scalarForByte: [UInt32] = {
    var table = [UInt32](repeating: 0, count: 256)
    var next: UInt32 = 256
    for b in 0..<256 {
      let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
      if printable { table[b] = UInt32(b) } else { table[b] = next; next += 1 }
    }
    return table
  }()

  /// Inverse of `scalarForByte` over U+0000…U+0143; -1 where a scalar spells no byte.
  static let byteForScalar: [Int16] = {
    var table = [Int16](repeating: -1, count: 0x144)
    for b in 0..<256 { table[Int(scalarForByte[b])] = Int16(b) }
    return table
  }()

  /// Spells `bytes` in the byte-level alphabet (as vocabularies store tokens).
  public static func encode<C: Collection<UInt8>>(_ bytes: C) -> String {
    var s = String.UnicodeScalarView()
    for b in bytes { s.append(Unicode.Scalar(scalarForByte[Int(b)])!) }
    return String(s)
  }

  /// The bytes a byte-level token string stands for, or nil when it holds a scalar outside
  /// the alphabet (such tokens are added tokens spelled as plain text).
  public static func decode(_ token: String) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(token.utf8.count)
    for u in token.unicodeScalars {
      let v = Int(u.value)
      guard v < byteForScalar.count, byteForScalar[v] >= 0 else { return nil }
      out.append(UInt8(byteForScalar[v]))
    }
    return out
  }
}
