import Foundation
import Testing
import Transformer
@testable import Prune

@Suite("report.json")
struct ReportTests {
  static func run(_ plan: PruningPlan, sequences: Int) throws -> PruningReport {
    var report = try PruningPipeline(plan: plan).run(model: TinyModel.llama(), sequences: TinyModel.sequences(sequences, length: 16)).report
    report.source = "tiny/model"
    return report
  }

  @Test("keys are the documented snake_case ones; absent values are omitted")
  func keys() throws {
    let plan = PruningPlan(sparsity: 0.4, headSimilarityTau: 0.5, allocation: .global, layers: 0..<1,
                           calibration: .file(path: "a/b.txt", format: .text), samples: 4, sequenceLength: 16)
    let object = try #require(try JSONSerialization.jsonObject(with: try Self.run(plan, sequences: 4).json(pretty: true)) as? [String: Any])
    #expect(Set(object.keys) == ["source", "plan", "requested_sparsity", "achieved_sparsity", "parameters_before",
                                 "parameters_after", "prunable_parameters_before", "prunable_parameters_after", "phases", "layers"])
    let planObject = try #require(object["plan"] as? [String: Any])
    #expect(Set(planObject.keys) == ["sparsity", "criterion", "allocation", "samples", "sequence_length", "recovery_samples",
                                     "recovery", "remedy", "target", "damp", "damp_prior", "round_to", "seed",
                                     "head_similarity_tau", "layers", "calibration"])
    #expect(planObject["layers"] as? String == "0..<1")
    #expect(planObject["calibration"] as? [String: String] == ["file": "a/b.txt", "format": "text"])
    let layers = try #require(object["layers"] as? [[String: Any]])
    #expect(Set(layers[0].keys).isSubset(of: ["layer", "pruned", "kept_heads", "removed_heads", "kept_kv_heads", "kept_channels",
                                              "removed_channels", "redundant_heads", "attention_error", "mlp_error",
                                              "kept_channel_indices"]))
    #expect(layers[0]["attention_error"] is Double && layers[1]["attention_error"] == nil, "layer 1 is not pruned")
  }

  @Test("the report records the plan that ran and decodes back to itself")
  func roundTrip() throws {
    // 6 sequences given, the plan asked for 16 scoring and 128 least-squares ones.
    var plan = PruningPlan(sparsity: 0.3, criterion: .flap, fixedCuts: [0: LayerCut(heads: 1, channels: 5)],
                           calibration: .selfGenerated, remedy: true)
    plan.seed = 7
    let report = try Self.run(plan, sequences: 6)
    #expect(report.plan.samples == 6 && report.plan.recoverySamples == 6 && report.plan.sequenceLength == 16)
    #expect(report.plan.fixedCuts == [0: LayerCut(heads: 1, channels: 5)] && report.plan.seed == 7)
    let decoded = try JSONDecoder().decode(PruningReport.self, from: report.json(pretty: false))
    var expected = report
    for i in expected.layers!.indices {
      (expected.layers![i].headDistances, expected.layers![i].headScores, expected.layers![i].channelScores) = (nil, nil, nil)
    }
    #expect(decoded == expected)
  }
}
