// Runs a child process for tests, as a user would run it: no standard input, output through
// temporary files so a chatty child can never block on a full pipe.

import Foundation

public enum ChildProcess {
  public struct Output: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: String
  }

  /// Runs `executable` with `arguments` and waits for it.
  public static func run(_ executable: URL, _ arguments: [String]) throws -> Output {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-child-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    try process.run()
    process.waitUntilExit()
    return Output(status: process.terminationStatus, stdout: try Data(contentsOf: outURL),
                  stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
  }
}
