import Foundation
import LinearAlgebra
import Testing
import Transformer

/// Fixture files of this target (read from the source tree).
enum Fixtures {
  static let files = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/files")
}

@Suite("GGUF dequantisation")
struct GGUFDequantTests {
  /// Expected floats from the `gguf` package (scripts/make-dequant-goldens.py).
  static let expected: [String: [Double]] = {
    guard let data = try? Data(contentsOf: Fixtures.files.appendingPathComponent("dequant-expected.json")),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: [Double]] else { return [:] }
    return object
  }()

  /// Tolerance per type. ggml's block formulas multiply the same float32 factors in the same
  /// order as the gguf package's numpy code, so results agree to the last bit except where
  /// numpy fuses or reorders the K-quant products (one float32 rounding: 2 ulp of the value).
  static func tolerance(_ value: Float) -> Float { 2 * value.magnitude.ulp }

  @Test("matches the gguf package's dequantiser",
        arguments: ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k"])
  func matchesGoldens(name: String) throws {
    let file = try GGUFFile(contentsOf: Fixtures.files.appendingPathComponent("dequant.gguf"))
    let golden = try #require(Self.expected[name]).map { Float($0) }
    let got = try file.floats(named: name)
    #expect(got.count == golden.count)
    var worst = 0
    for (g, e) in zip(got, golden) where abs(g - e) > Self.tolerance(e) { worst += 1 }
    #expect(worst == 0, "\(worst) of \(golden.count) values differ")
    let m = try file.matrix(named: name)
    #expect(m.rows == 2 && m.columns == golden.count / 2)
  }

  @Test("half conversion agrees with the bit-level reference on all 65536 patterns")
  func halfConversion() {
    for bits in 0...UInt16.max {
      let fast = floatFromHalf(bits), slow = floatFromHalfReference(bits)
      #expect(fast.bitPattern == slow.bitPattern || (fast.isNaN && slow.isNaN))
      if !slow.isNaN { #expect(halfFromFloatReference(slow) == bits) }
    }
  }

  @Test("float to half rounds to nearest even, like Float16")
  func halfRounding() {
    var rng = SplitMix64(seed: 7)
    for _ in 0..<100_000 {
      let x = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
      if x.isNaN { continue }
      #expect(halfFromFloatReference(x) == Float16(x).bitPattern, "\(x)")
    }
  }

  @Test("bfloat16 round trip and rounding")
  func bfloat16() {
    #expect(floatFromBFloat16(0x3F80) == 1)
    #expect(bfloat16FromFloat(1) == 0x3F80)
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even gives 1.
    #expect(bfloat16FromFloat(1 + 1.0 / 256) == 0x3F80)
    #expect(bfloat16FromFloat(1 + 3.0 / 256) == 0x3F82)
    #expect(floatFromBFloat16(bfloat16FromFloat(-2.5)) == -2.5)
  }
}
