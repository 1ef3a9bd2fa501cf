import Foundation
import Testing
import Transformer
@testable import Prune

@Suite("PruningPlan as the source of truth")
struct PlanTests {
  @Test("defaults live in the plan: 16 scoring sequences, 128 least-squares ones when fitting, damping by prior")
  func defaults() {
    let plain = PruningPlan(sparsity: 0.2, calibration: .selfGenerated)
    #expect(plain.samples == 16 && plain.sequenceLength == 128 && plain.recoverySamples == 16 && plain.damp == 0.8)
    #expect(PruningPlan(sparsity: 0.2, calibration: .none, dampingPrior: .dense).damp == 0.8)
    let fitting = PruningPlan(sparsity: 0.2, calibration: .selfGenerated, remedy: true, dampingPrior: .zero)
    #expect(fitting.recoverySamples == 128 && fitting.damp == 0.01)
    #expect(PruningPlan(sparsity: 0.2, calibration: .none, samples: 200, recovery: true).recoverySamples == 200)
    #expect(PruningPlan(sparsity: 0.2, calibration: .none, samples: 8, recoverySamples: 3).recoverySamples == 8)
  }

  @Test("validation names the bad setting")
  func validation() {
    #expect(throws: PruningError.invalidPlan("layers 1..<5 outside the model's 2 layers")) {
      try PruningPlan(sparsity: 0.2, layers: 1..<5, calibration: .none).validate(layerCount: 2)
    }
    #expect(throws: PruningError.invalidPlan("sparsity 1.0 outside [0, 1)")) {
      try PruningPlan(sparsity: 1, calibration: .none).validate(layerCount: 2)
    }
  }

  @Test("the library draws the plan's calibration: recoverySamples windows of sequenceLength tokens, seeded")
  func calibrationFromPlan() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("pare-plan-\(UUID().uuidString).txt")
    defer { try? FileManager.default.removeItem(at: file) }
    let text = String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 40)
    try Data(text.utf8).write(to: file)
    // A byte-level vocabulary of the text's characters (GPT-2 writes the space as "Ġ"), no merges.
    let characters = Set(text).map { $0 == " " ? "Ġ" : String($0) }.sorted()
    let vocab = "{" + characters.enumerated().map { "\"\($1)\": \($0)" }.joined(separator: ",") + "}"
    let bytes = try Tokenizer(vocabJSON: Data(vocab.utf8), mergesText: Data("#version: 0.2\n".utf8))
    let plan = PruningPlan(sparsity: 0.2, calibration: .file(path: file.path, format: .text), samples: 3, sequenceLength: 10,
                           recoverySamples: 7, seed: 5)
    let model = TinyModel.llama()
    let sequences = try Calibration.sequences(for: plan, model: model, tokenizer: bytes)
    #expect(sequences == (try Calibration.windows(of: bytes.encode(text), count: 7, length: 10, seed: 5)))
    #expect(try Calibration.sequences(for: PruningPlan(sparsity: 0.2, calibration: .none), model: model, tokenizer: bytes).isEmpty)
  }
}
