// Tests on the real SmolLM2-135M-Instruct model. They run in release builds (scripts/test
// runs this target with `-c release`) and need `scripts/fetch-smollm2.sh` to have run.
import Foundation

/// Where the real model and the shared data live, relative to the package root.
enum RealModel {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let ggufPath = packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
  static let sharedData = packageRoot.appendingPathComponent("../shared/data").standardizedFileURL.path
  static var isPresent: Bool { FileManager.default.fileExists(atPath: ggufPath) }
  static let absentMessage = "SmolLM2 model absent at models/: run scripts/fetch-smollm2.sh"
}
