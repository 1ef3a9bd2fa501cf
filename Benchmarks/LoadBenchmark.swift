// pare-bench load [MODEL] [--json] (issue 3): time to open, validate and dequantise a model
// (default: the SmolLM2 Q4_1 GGUF), and the dequantisation throughput of its tensors.
// Validation first: the loaded model must have the expected shape and the parallel
// dequantiser must agree bit for bit with a single-block-at-a-time pass over one tensor.
// Side by side (issue 17): the load with the non-finite check every load does, and without it
// (`allowNonFinite`, the code path before the check existed), interleaved, best of 7 each;
// and the check alone over every weight of the loaded model.
import Foundation
import Transformer

enum LoadBenchmark {
  static func run(_ args: [String]) throws {
    let json = args.contains("--json")
    let path = args.first { !$0.hasPrefix("--") } ?? "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    // Validate: the whole-tensor path equals block-by-block decoding of the first tensor.
    if path.hasSuffix(".gguf") {
      let file = try GGUFFile(contentsOf: URL(fileURLWithPath: path))
      if let t = file.tensors.first(where: { $0.type.isDequantisable && $0.elementCount > 1 << 20 }) {
        let whole = try file.floats(t)
        let step = t.type.blockSize
        for b in stride(from: 0, to: min(t.elementCount / step, 4096), by: 97) {
          let bytes = file.withTensorBytes(t) { Array($0[(b * t.type.blockByteCount)..<((b + 1) * t.type.blockByteCount)]) }
          var one = GGUFEncoder()
          one.tensors = [.init(name: "x", dimensions: [step], type: t.type, bytes: bytes)]
          let single = try GGUFFile(data: Data(one.encode())).floats(named: "x")
          guard Array(whole[(b * step)..<((b + 1) * step)]) == single else {
            throw LoadBenchmarkError("dequantisation of \(t.name) block \(b) differs between whole-tensor and single-block paths")
          }
        }
      }
    }
    let repetitions = 7
    var times: [Double] = [], unchecked: [Double] = []
    var loaded: LoadedModel?
    // Interleaved, alternating which goes first, so cache and allocator state favour neither.
    for i in 0..<repetitions {
      for checked in i % 2 == 0 ? [true, false] : [false, true] {
        let start = DispatchTime.now().uptimeNanoseconds
        let model = try ModelLoader.load(path: path, allowNonFinite: !checked)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if checked { times.append(seconds); loaded = model } else { unchecked.append(seconds) }
      }
    }
    guard let model = loaded else { return }
    let best = times.min() ?? 0, bestUnchecked = unchecked.min() ?? 0
    let params = model.parameterCount
    // The check alone, over every weight matrix and vector of the model.
    let w = model.model.weights
    var arrays: [[Float]] = [w.tokenEmbedding.storage, w.finalNorm.weight] + (w.outputHead.map { [$0.storage] } ?? [])
    for l in w.layers {
      arrays += [l.attentionNorm.weight, l.query.weight.storage, l.key.weight.storage, l.value.weight.storage,
                 l.output.weight.storage, l.mlpNorm.weight, l.up.weight.storage, l.down.weight.storage]
      if let g = l.gate { arrays.append(g.weight.storage) }
    }
    var scanTimes: [Double] = []
    for _ in 0..<3 {
      let start = DispatchTime.now().uptimeNanoseconds
      var found = 0
      for a in arrays where a.firstNonFiniteIndex() != nil { found += 1 }
      scanTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
      guard found == 0 else { throw LoadBenchmarkError("\(found) tensors of \(path) hold non-finite values") }
    }
    let scan = scanTimes.min() ?? 0
    // GGUF: dequantising every tensor with the check fused in, against plain dequantisation.
    var fused: [Double] = [], plain: [Double] = []
    if path.hasSuffix(".gguf") {
      let file = try GGUFFile(contentsOf: URL(fileURLWithPath: path))
      let tensors = file.tensors.filter(\.type.isDequantisable)
      for i in 0..<repetitions {
        for checked in i % 2 == 0 ? [true, false] : [false, true] {
          let start = DispatchTime.now().uptimeNanoseconds
          for t in tensors {
            if checked {
              guard try file.floatsFindingNonFinite(t).firstNonFinite == nil else { throw LoadBenchmarkError("\(t.name) is not finite") }
            } else {
              _ = try file.floats(t)
            }
          }
          (checked ? { fused.append($0) } : { plain.append($0) })(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
      }
    }
    let scanned = arrays.reduce(0) { $0 + $1.count }
    if json {
      let object: [String: Any] = ["benchmark": "load", "model": path, "seconds_best": best, "seconds_all": times,
                                   "seconds_best_without_finite_check": bestUnchecked,
                                   "seconds_all_without_finite_check": unchecked,
                                   "finite_check_seconds": scan, "finite_check_values": scanned,
                                   "dequantise_all_seconds_best": plain.min() ?? 0,
                                   "dequantise_all_with_check_seconds_best": fused.min() ?? 0,
                                   "parameters": params, "parameters_per_second": Double(params) / best]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    } else {
      print("load \(path): best of \(repetitions) \(String(format: "%.3f", best)) s (\(times.map { String(format: "%.3f", $0) }.joined(separator: ", "))), "
            + "\(params) parameters, \(String(format: "%.0f", Double(params) / best / 1e6)) M parameters/s")
      print("  without the non-finite check (--allow-non-finite): best of \(repetitions) \(String(format: "%.3f", bestUnchecked)) s "
            + "(\(unchecked.map { String(format: "%.3f", $0) }.joined(separator: ", ")))")
      print("  the check alone over \(scanned) loaded values: \(String(format: "%.4f", scan)) s "
            + "(\(String(format: "%.1f", Double(scanned) * 4 / scan / 1e9)) GB/s)")
      if let f = fused.min(), let p = plain.min() {
        print("  dequantising every tensor: \(String(format: "%.3f", p)) s plain, \(String(format: "%.3f", f)) s with the check "
              + "fused (best of \(repetitions) each, interleaved)")
      }
    }
  }
}

struct LoadBenchmarkError: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}
