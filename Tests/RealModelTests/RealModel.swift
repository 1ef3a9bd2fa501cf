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

extension RealModel {
  /// The `pare` binary of this build (beside the test bundle), run as a user runs it.
  /// Returns its exit status and standard output.
  static func runPare(_ arguments: [String]) throws -> (status: Int32, output: Data) {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var binary: URL?
    for _ in 0..<4 {
      let candidate = dir.appendingPathComponent("pare")
      if FileManager.default.isExecutableFile(atPath: candidate.path) { binary = candidate; break }
      dir = dir.deletingLastPathComponent()
    }
    guard let binary else { throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "pare binary not found beside the tests"]) }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, data)
  }
}
