// report.json, report.md and SVG charts for a pruning run.

import Foundation
import Transformer

/// The files a pruning run writes beside the model, by name.
public enum PruningReport {
  /// Builds `report.json`, `report.md`, `widths.svg` and (when head similarity ran)
  /// `head-similarity.svg`.
  public static func files(result: PruningResult, plan: PruningPlan, source: String,
                           extraPhases: [(name: String, seconds: Double)]) -> [String: Data] {
    let phases = extraPhases + result.phases
    var files: [String: Data] = [:]
    files["report.json"] = json(result: result, plan: plan, source: source, phases: phases)
    files["report.md"] = Data(markdown(result: result, plan: plan, source: source, phases: phases).utf8)
    files["widths.svg"] = Data(widthChart(result: result).utf8)
    if let graph = headSimilarityGraph(result: result, tau: plan.headSimilarityTau) {
      files["head-similarity.svg"] = Data(graph.utf8)
    }
    return files
  }

  static func planDictionary(_ plan: PruningPlan) -> [String: Any] {
    var d: [String: Any] = [
      "sparsity": plan.sparsity, "criterion": plan.criterion.rawValue, "allocation": plan.allocation.rawValue,
      "samples": plan.samples, "sequence_length": plan.sequenceLength, "recovery_samples": plan.recoverySamples,
      "recovery": plan.recovery, "remedy": plan.remedy, "target": plan.target.rawValue, "damp": plan.damp, "damp_prior": plan.dampingPrior.rawValue,
      "round_to": plan.roundTo, "seed": plan.seed,
    ]
    if let tau = plan.headSimilarityTau { d["head_similarity_tau"] = tau }
    if let layers = plan.layers { d["layers"] = "\(layers.lowerBound)..<\(layers.upperBound)" }
    switch plan.calibration {
    case let .file(path, format): d["calibration"] = ["file": path, "format": format]
    case .selfGenerated: d["calibration"] = "self-generated"
    case .none: d["calibration"] = "none"
    }
    return d
  }

  /// The machine-readable summary (also what `pare prune --json` prints).
  public static func summary(result: PruningResult, plan: PruningPlan, source: String,
                             phases: [(name: String, seconds: Double)]) -> [String: Any] {
    let layers: [[String: Any]] = result.layers.map { l in
      var d: [String: Any] = [
        "layer": l.layer, "pruned": l.pruned, "kept_heads": l.keptHeads, "removed_heads": l.removedHeads,
        "kept_kv_heads": l.keptKeyValueHeads, "kept_channels": l.keptChannels, "removed_channels": l.removedChannels,
      ]
      if !l.redundantHeads.isEmpty { d["redundant_heads"] = l.redundantHeads }
      if let e = l.attentionError { d["attention_error"] = e }
      if let e = l.mlpError { d["mlp_error"] = e }
      if let kept = result.model.config.layers[l.layer].originalChannels { d["kept_channel_indices"] = kept }
      return d
    }
    return [
      "source": source, "plan": planDictionary(plan),
      "requested_sparsity": result.requestedSparsity, "achieved_sparsity": result.achievedSparsity,
      "parameters_before": result.parametersBefore, "parameters_after": result.parametersAfter,
      "prunable_parameters_before": result.prunableBefore, "prunable_parameters_after": result.prunableAfter,
      "phases": phases.map { ["name": $0.name, "seconds": $0.seconds] },
      "layers": layers,
    ]
  }

  static func json(result: PruningResult, plan: PruningPlan, source: String, phases: [(name: String, seconds: Double)]) -> Data {
    let object = summary(result: result, plan: plan, source: source, phases: phases)
    return (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
  }

  static func markdown(result: PruningResult, plan: PruningPlan, source: String, phases: [(name: String, seconds: Double)]) -> String {
    let c = result.model.config
    var md = """
      # Pruning report

      Source: `\(source)`

      | | |
      |---|---|
      | criterion | \(plan.criterion.rawValue)\(plan.headSimilarityTau.map { " + head similarity τ = \($0)" } ?? "") |
      | allocation | \(plan.allocation.rawValue) |
      | recovery / remedy | \(plan.recovery ? "yes" : "no") / \(plan.remedy ? "yes" : "no") (target \(plan.target.rawValue), damp \(plan.damp) toward \(plan.dampingPrior.rawValue)) |
      | calibration | \(calibrationDescription(plan.calibration)) — \(plan.samples) × \(plan.sequenceLength) tokens for scores, \(plan.recoverySamples) × \(plan.sequenceLength) for least squares |
      | requested sparsity | \(percent(result.requestedSparsity)) |
      | achieved sparsity | \(percent(result.achievedSparsity)) of the attention + MLP parameters of the pruned layers |
      | parameters | \(result.parametersBefore) → \(result.parametersAfter) (\(percent(1 - Double(result.parametersAfter) / Double(max(result.parametersBefore, 1)))) fewer) |

      ## Wall time

      | phase | seconds |
      |---|---|

      """
    for p in phases { md += "| \(p.name) | \(String(format: "%.2f", p.seconds)) |\n" }
    md += """

      ## Layers

      ![kept width per layer](widths.svg)

      | layer | query heads | KV heads | MLP channels | removed heads (original index) | attention error | MLP error |
      |---|---|---|---|---|---|---|

      """
    for l in result.layers {
      let shape = c.layers[l.layer]
      md += "| \(l.layer) | \(shape.queryHeadCount)/\(c.originalHeadCount) | \(shape.keyValueHeadCount)/\(c.originalKeyValueHeadCount) "
      md += "| \(shape.intermediateSize)/\(c.originalIntermediateSize) | \(l.removedHeads.map(String.init).joined(separator: ", ")) "
      md += "| \(l.attentionError.map { String(format: "%.4f", $0) } ?? "–") | \(l.mlpError.map { String(format: "%.4f", $0) } ?? "–") |\n"
    }
    md += "\nErrors are ‖Ŷ − Y‖²/‖Y‖² of each module's output against its dense target on the calibration tokens.\n"
    md += "Kept MLP channel indices are in `report.json` and in `config.json`'s `pare` block.\n"
    if result.layers.contains(where: { $0.headDistances != nil }) {
      md += "\n## Head similarity\n\n![head-similarity graph](head-similarity.svg)\n"
    }
    return md
  }

  static func calibrationDescription(_ c: CalibrationSource) -> String {
    switch c {
    case let .file(path, format): return "`\(path)` (\(format))"
    case .selfGenerated: return "self-generated by the model"
    case .none: return "none (data-free)"
    }
  }

  static func percent(_ x: Double) -> String { String(format: "%.2f%%", 100 * x) }

  /// Bar chart: kept query heads and MLP channels per layer, as fractions of the original.
  static func widthChart(result: PruningResult) -> String {
    let c = result.model.config
    let n = c.layerCount, barWidth = 10, gap = 6, height = 160, left = 40, top = 30
    let width = left + n * (2 * barWidth + gap) + 20
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height + top + 40)\" font-family=\"sans-serif\" font-size=\"10\">\n"
    svg += "<text x=\"\(left)\" y=\"16\" font-size=\"12\">Kept width per layer (blue: query heads, orange: MLP channels)</text>\n"
    svg += "<line x1=\"\(left)\" y1=\"\(top + height)\" x2=\"\(width - 10)\" y2=\"\(top + height)\" stroke=\"#333\"/>\n"
    for (frac, label) in [(1.0, "100%"), (0.5, "50%")] {
      let y = top + height - Int(Double(height) * frac)
      svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(width - 10)\" y2=\"\(y)\" stroke=\"#ddd\"/><text x=\"4\" y=\"\(y + 3)\">\(label)</text>\n"
    }
    for (i, shape) in c.layers.enumerated() {
      let x = left + i * (2 * barWidth + gap)
      let h1 = Int(Double(height) * Double(shape.queryHeadCount) / Double(max(c.originalHeadCount, 1)))
      let h2 = Int(Double(height) * Double(shape.intermediateSize) / Double(max(c.originalIntermediateSize, 1)))
      svg += "<rect x=\"\(x)\" y=\"\(top + height - h1)\" width=\"\(barWidth)\" height=\"\(h1)\" fill=\"#4c78a8\"><title>layer \(i): \(shape.queryHeadCount) heads</title></rect>\n"
      svg += "<rect x=\"\(x + barWidth)\" y=\"\(top + height - h2)\" width=\"\(barWidth)\" height=\"\(h2)\" fill=\"#f58518\"><title>layer \(i): \(shape.intermediateSize) channels</title></rect>\n"
      if i % 5 == 0 { svg += "<text x=\"\(x)\" y=\"\(top + height + 14)\">\(i)</text>\n" }
    }
    return svg + "</svg>\n"
  }

  /// Paper Fig. 3 style: the heads of the layer with the most redundant heads as nodes on a
  /// circle, an edge where D < τ; marked (pruned-first) heads drawn hollow.
  static func headSimilarityGraph(result: PruningResult, tau: Double?) -> String? {
    guard let tau, let layer = result.layers.filter({ $0.headDistances != nil })
      .max(by: { $0.redundantHeads.count < $1.redundantHeads.count }), let d = layer.headDistances else { return nil }
    let n = d.count, size = 320.0, r = 120.0, cx = 160.0, cy = 170.0
    let originalHeads = layer.keptHeads.count + layer.removedHeads.count == n
      ? (layer.keptHeads + layer.removedHeads).sorted() : Array(0..<n)
    func point(_ i: Int) -> (Double, Double) {
      let a = 2 * Double.pi * Double(i) / Double(max(n, 1)) - Double.pi / 2
      return (cx + r * cos(a), cy + r * sin(a))
    }
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(size))\" height=\"\(Int(size) + 30)\" font-family=\"sans-serif\" font-size=\"11\">\n"
    svg += "<text x=\"8\" y=\"16\" font-size=\"12\">Layer \(layer.layer): heads, edges where D &lt; \(tau)</text>\n"
    for i in 0..<n { for j in (i + 1)..<max(n, i + 1) where d[i][j] < tau {
      let (x1, y1) = point(i), (x2, y2) = point(j)
      svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"><title>D = %.3f</title></line>\n", x1, y1, x2, y2, d[i][j])
    } }
    let marked = Set(layer.redundantHeads)
    for i in 0..<n {
      let (x, y) = point(i)
      let head = originalHeads[i]
      let fill = marked.contains(head) ? "white" : "#4c78a8"
      let text = marked.contains(head) ? "#4c78a8" : "white"
      svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"14\" ", x, y)
      svg += "fill=\"\(fill)\" stroke=\"#4c78a8\" stroke-width=\"2\"/>"
      svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" ", x, y + 4)
      svg += "fill=\"\(text)\">\(head)</text>\n"
    }
    return svg + "</svg>\n"
  }
}
