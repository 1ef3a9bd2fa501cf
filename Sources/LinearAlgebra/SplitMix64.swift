/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast, seedable generator.
///
/// Everything random in Pare (test inputs, calibration windows, sampling, the `random`
/// baseline) draws from this generator, so a seed gives the same result on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  public private(set) var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform `Float` in `range`, from the top 24 bits of one draw.
  public mutating func nextFloat(in range: ClosedRange<Float> = 0...1) -> Float {
    let unit = Float(next() >> 40) * (1.0 / Float(1 << 24))
    return range.lowerBound + (range.upperBound - range.lowerBound) * unit
  }

  /// A standard normal draw (Box–Muller), in `Double`.
  public mutating func nextGaussian() -> Double {
    let u1 = max(Double(next() >> 11) * 0x1p-53, 0x1p-60)
    let u2 = Double(next() >> 11) * 0x1p-53
    return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
  }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
@inline(__always) private func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
