/// One GGUF metadata value, of any of the format's types (arrays may nest).
public enum GGUFValue: Sendable, Equatable {
  case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
  case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool)
  case string(String)
  case array([GGUFValue])

  /// The value as an integer, when it is one of the integer types.
  public var intValue: Int? {
    switch self {
    case let .uint8(v): return Int(v)
    case let .int8(v): return Int(v)
    case let .uint16(v): return Int(v)
    case let .int16(v): return Int(v)
    case let .uint32(v): return Int(v)
    case let .int32(v): return Int(v)
    case let .uint64(v): return v <= UInt64(Int.max) ? Int(v) : nil
    case let .int64(v): return Int(v)
    default: return nil
    }
  }

  /// The value as a floating-point number, when it is numeric.
  public var doubleValue: Double? {
    switch self {
    case let .float32(v): return Double(v)
    case let .float64(v): return v
    default: return intValue.map(Double.init)
    }
  }

  public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
  public var boolValue: Bool? { if case let .bool(b) = self { return b } else { return nil } }
  public var arrayValue: [GGUFValue]? { if case let .array(a) = self { return a } else { return nil } }
}
