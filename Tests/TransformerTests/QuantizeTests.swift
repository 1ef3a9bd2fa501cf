// Pare's ggml quantisers against llama.cpp's (golden blocks) and against the error bound of
// each format (a naive reference: the block's own scale).

import Foundation
import LinearAlgebra
import Testing
import Transformer

@Suite("ggml quantisers")
struct QuantizeTests {
  static var golden: [String: Any] {
    let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/files/quant-goldens.json")
    return (try? JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]) ?? [:]
  }

  static var input: [Float] { (golden["input_bits"] as? [Int] ?? []).map { Float(bitPattern: UInt32($0)) } }

  static func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = hex.startIndex
    while i < hex.endIndex {
      let j = hex.index(i, offsetBy: 2)
      out.append(UInt8(hex[i..<j], radix: 16)!)
      i = j
    }
    return out
  }

  @Test("blocks equal llama.cpp's (gguf-py for Q8_0/Q4_0/Q4_1/Q5_0, llama-quantize for Q4_K/Q6_K)",
        arguments: [GGMLType.q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q6_K])
  func matchesLlamaCpp(type: GGMLType) throws {
    let types = try #require(Self.golden["types"] as? [String: String], "scripts/make-quant-goldens.py output missing")
    let hex = try #require(types[type.name], "no \(type.name) golden: rerun scripts/make-quant-goldens.py with a llama.cpp build")
    let x = Self.input
    #expect(x.count == 2048)
    let ours = GGMLQuantizer.quantize(type, x[...])
    let theirs = Self.bytes(hex: hex)
    #expect(ours.count == theirs.count)
    let blockBytes = type.blockByteCount
    for b in 0..<(theirs.count / blockBytes) {
      let range = (b * blockBytes)..<((b + 1) * blockBytes)
      #expect(Array(ours[range]) == Array(theirs[range]), "\(type.name) block \(b) differs")
    }
  }

  @Test("each element is within half a quantisation step of the block's scale",
        arguments: [GGMLType.q8_0, .q4_0, .q4_1, .q5_0])
  func errorBound(type: GGMLType) {
    var rng = SplitMix64(seed: 21)
    let x = (0..<(32 * 40)).map { i in rng.nextFloat(in: -1...1) * Float(1 + i / 32) }
    let y = GGMLQuantizer.dequantize(type, GGMLQuantizer.quantize(type, x[...]), count: x.count)
    for b in 0..<40 {
      let block = Array(x[(32 * b)..<(32 * b + 32)])
      let lo = block.min()!, hi = block.max()!, amax = max(abs(lo), abs(hi))
      // Step of the format: Q8_0 amax/127, Q4_0 amax/8, Q5_0 amax/16, Q4_1 (hi − lo)/15;
      // half a step of rounding, plus the f16 rounding of the scale (2⁻¹¹ relative) times
      // the largest level, plus Q4_0/Q5_0's clamp of the top level (one step).
      let (step, levels, clampSteps): (Float, Float, Float)
      switch type {
      case .q8_0: (step, levels, clampSteps) = (amax / 127, 127, 0)
      case .q4_0: (step, levels, clampSteps) = (amax / 8, 8, 1)
      case .q5_0: (step, levels, clampSteps) = (amax / 16, 16, 1)
      default: (step, levels, clampSteps) = ((hi - lo) / 15, 15, 0)
      }
      let bound = step * (0.5 + clampSteps) + step * levels * 0x1p-11 + amax * 0x1p-11 + 1e-6
      for i in 0..<32 {
        #expect(abs(y[32 * b + i] - block[i]) <= bound, "\(type.name) block \(b) element \(i)")
      }
    }
  }
}
