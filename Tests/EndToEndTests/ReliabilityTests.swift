// Issue 17, as a user meets it: weights holding NaN, text in another format than --format
// says, `kill -9` in the middle of a write, a full disk, and two writers racing for one
// --out. Every case is the tiny byte-vocabulary llama (debug build, well under a second per
// command).
import Foundation
import TestSupport
import Testing

@Suite("reliability: non-finite weights, wrong formats, faults while writing", .serialized)
struct ReliabilityTests {
  // MARK: - Helpers

  /// A scratch folder, removed by the caller.
  static func scratch() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pare-reliability-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// The tiny model with `value` stored at element `index` of the F32 tensor `tensor`.
  static func ggufWith(_ value: Float, in tensor: String, at index: Int, folder: URL) throws -> String {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TinyBytesModel.gguf)))
    let fields = InspectHostileTests.ggufFields(bytes)
    let offsetField = try #require(fields.first { $0.0 == "offset of \(tensor)" }).1
    let dataStart = try #require(fields.first { $0.0 == "data" }).1
    let offset = (0..<8).reduce(0) { $0 | Int(bytes[offsetField + $1]) << (8 * $1) }
    let at = dataStart + offset + 4 * index
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.replaceSubrange(at..<(at + 4), with: $0) }
    let url = folder.appendingPathComponent("corrupt.gguf")
    try Data(bytes).write(to: url)
    return url.path
  }

  /// Exit 1 and exactly one line, `error: …`, containing every one of `needles`.
  static func expectOneError(_ r: CLI.Result, _ needles: [String], _ what: String) {
    let lines = r.stderr.split(separator: "\n")
    #expect(r.status == 1, "\(what): exit \(r.status), stderr: \(r.stderr)")
    #expect(lines.count == 1 && lines.first?.hasPrefix("error: ") == true, "\(what): \(r.stderr)")
    for n in needles { #expect(r.stderr.contains(n), "\(what): '\(n)' missing from \(r.stderr)") }
    #expect(!r.stdout.lowercased().contains("nan"), "\(what) printed a NaN: \(r.stdout)")
  }

  /// Entries of `folder` (hidden ones included).
  static func entries(_ folder: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
  }

  static let prune = PruneCommandTests.calibration + ["--sparsity", "0.5"]

  /// A folder `pare prune` wrote is complete: every file there, and it loads.
  static func expectComplete(_ out: URL, _ what: String) throws {
    for name in ["model.safetensors", "config.json", "tokenizer.json", "report.json", "report.md"] {
      #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(what): no \(name)")
    }
    let inspect = try CLI.run(["inspect", out.path, "--json"])
    #expect(inspect.status == 0, "\(what): \(inspect.stderr)")
  }

  // MARK: - Non-finite weights

  @Test("a NaN or Inf weight is refused on load, naming the tensor, by every command; no output is written")
  func nonFiniteRefused() throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    for (value, spelled) in [(Float.nan, "nan"), (Float.infinity, "inf"), (-Float.infinity, "-inf")] {
      let model = try Self.ggufWith(value, in: "blk.1.ffn_up.weight", at: 37, folder: dir)
      let needles = ["blk.1.ffn_up.weight", "(\(spelled))", "element 37", "--allow-non-finite"]
      Self.expectOneError(try CLI.run(["inspect", model]), needles, "inspect \(spelled)")
      Self.expectOneError(try CLI.run(["eval", model, "--dataset", TinyBytesModel.sample, "--format", "text", "--seq-len", "16"]),
                          needles, "eval \(spelled)")
      Self.expectOneError(try CLI.run(["generate", model, "--prompt", "The", "--max-tokens", "4"]), needles, "generate \(spelled)")
      let out = dir.appendingPathComponent("out")
      Self.expectOneError(try CLI.run(["prune", model, "--out", out.path] + Self.prune), needles, "prune \(spelled)")
      #expect(Self.entries(dir) == ["corrupt.gguf"], "prune left \(Self.entries(dir))")
    }
  }

  @Test("--allow-non-finite loads the model, but a NaN perplexity, NaN logits or a NaN pruned model are still errors")
  func nonFiniteAllowed() throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = try Self.ggufWith(.nan, in: "blk.1.ffn_up.weight", at: 37, folder: dir)
    let inspect = try CLI.run(["inspect", model, "--allow-non-finite"])
    #expect(inspect.status == 0, "stderr: \(inspect.stderr)")
    Self.expectOneError(try CLI.run(["eval", model, "--allow-non-finite", "--dataset", TinyBytesModel.sample,
                                     "--format", "text", "--seq-len", "16", "--json"]),
                        ["perplexity is not finite"], "eval --allow-non-finite")
    Self.expectOneError(try CLI.run(["generate", model, "--allow-non-finite", "--prompt", "The", "--max-tokens", "4",
                                     "--temperature", "0"]),
                        ["logits", "not finite"], "generate --allow-non-finite")
    // The NaN sits in an MLP row of layer 1: pruning half the channels by a criterion that
    // reads the data propagates NaN into the reconstruction and scores. Whatever the
    // pipeline makes of it, the command either writes a finite model or fails cleanly.
    let out = dir.appendingPathComponent("out")
    let r = try CLI.run(["prune", model, "--out", out.path, "--json"] + Self.prune)
    Self.expectOneError(r, ["blk.1.ffn_up.weight"], "prune without the flag")
    let allowed = try CLI.run(["prune", model, "--out", out.path, "--allow-non-finite", "--json"] + Self.prune)
    if allowed.status == 0 {
      #expect(!allowed.stdout.lowercased().contains("nan"), "prune printed a NaN: \(allowed.stdout)")
      try Self.expectComplete(out, "prune --allow-non-finite")
    } else {
      Self.expectOneError(allowed, [], "prune --allow-non-finite")
      #expect(!FileManager.default.fileExists(atPath: out.path))
    }
  }

  // MARK: - Text in another format than --format says

  @Test("calibration and evaluation text in another format than --format says: one error line")
  func wrongFormat() throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    func file(_ name: String, _ text: String) throws -> String {
      let url = dir.appendingPathComponent(name)
      try Data(text.utf8).write(to: url)
      return url.path
    }
    let ptb = try file("ptb.txt", String(repeating: " the cat sat on the mat for N days <unk> \n", count: 40))
    let wiki = try file("wiki.txt", String(repeating: " = Heading = \n \n The Cat sat on the mat @-@ twice . \n", count: 40))
    let plain = try file("plain.txt", String(repeating: "Plain text, no leading space.\n", count: 40))
    let binary = try file("binary.txt", String(repeating: " the cat \u{0}\u{1} sat \n", count: 40))
    let out = dir.appendingPathComponent("out").path
    for (path, format, needle) in [(ptb, "wikitext", "looks like PTB"), (wiki, "ptb", "lower-case"),
                                   (plain, "wikitext", "does not start with a space"), (binary, "ptb", "control character")] {
      let calibration = ["--calibration", path, "--format", format, "--samples", "2", "--seq-len", "16"]
      Self.expectOneError(try CLI.run(["prune", TinyBytesModel.gguf, "--out", out, "--sparsity", "0.5"] + calibration),
                          ["--format \(format)", needle], "prune \(format) on \(path)")
      Self.expectOneError(try CLI.run(["eval", TinyBytesModel.gguf, "--dataset", path, "--format", format, "--seq-len", "16"]),
                          ["--format \(format)", needle], "eval \(format) on \(path)")
    }
    #expect(!FileManager.default.fileExists(atPath: out))
    // Each file is accepted in its own format (and as plain text).
    for (path, format) in [(ptb, "ptb"), (wiki, "wikitext"), (plain, "text"), (wiki, "text")] {
      let r = try CLI.run(["eval", TinyBytesModel.gguf, "--dataset", path, "--format", format, "--seq-len", "16", "--max-chunks", "2"])
      #expect(r.status == 0, "\(format) on \(path): \(r.stderr)")
    }
  }

  @Test("a config whose shapes or 'pare' indices disagree with the tensors: one error line")
  func configDisagrees() throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    let good = dir.appendingPathComponent("good")
    let r = try CLI.run(["prune", TinyBytesModel.gguf, "--out", good.path] + Self.prune)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: good.appendingPathComponent("config.json"))) as? [String: Any])
    func variant(_ name: String, _ change: (inout [String: Any]) -> Void) throws -> String {
      let folder = dir.appendingPathComponent(name)
      try FileManager.default.copyItem(at: good, to: folder)
      var c = config
      change(&c)
      try JSONSerialization.data(withJSONObject: c).write(to: folder.appendingPathComponent("config.json"))
      return folder.path
    }
    func layers(_ c: [String: Any]) -> [[String: Any]] { (c["pare"] as? [String: Any])?["layers"] as? [[String: Any]] ?? [] }
    func setLayers(_ c: inout [String: Any], _ l: [[String: Any]]) {
      var pare = c["pare"] as? [String: Any] ?? [:]
      pare["layers"] = l
      c["pare"] = pare
    }
    let cases: [(String, String, (inout [String: Any]) -> Void)] = [
      ("hidden size", "shape", { $0["hidden_size"] = 48 }),
      ("vocabulary", "shape", { $0["vocab_size"] = 300 }),
      ("pare MLP width", "shape", { c in var l = layers(c); l[0]["intermediate_size"] = 30
        l[0]["original_channels"] = Array(0..<30); setLayers(&c, l) }),
      ("pare kept channels", "original_channels", { c in var l = layers(c); l[0]["original_channels"] = [0, 1, 2]; setLayers(&c, l) }),
      ("pare kept heads out of range", "original_query_heads", { c in var l = layers(c)
        let n = (l[0]["key_value_head_of_query"] as? [Int])?.count ?? 0
        l[0]["original_query_heads"] = Array(90..<(90 + n)); setLayers(&c, l) }),
      ("pare KV head", "key_value_head", { c in var l = layers(c); l[1]["key_value_head_of_query"] = [0, 7]; setLayers(&c, l) }),
      ("norm epsilon beyond Float", "rms_norm_eps", { $0["rms_norm_eps"] = 1e300 }),
    ]
    for (name, needle, change) in cases {
      let folder = try variant(name.replacingOccurrences(of: " ", with: "-"), change)
      Self.expectOneError(try CLI.run(["inspect", folder]), [needle], name)
      Self.expectOneError(try CLI.run(["prune", folder, "--out", dir.appendingPathComponent("o").path] + Self.prune),
                          [needle], "prune of \(name)")
    }
  }

  // MARK: - Faults while writing

  /// Starts `pare` without waiting; stdout and stderr go to files in `dir`.
  static func start(_ arguments: [String], in dir: URL, tag: String, environment: [String: String] = [:]) throws -> Process {
    let p = Process()
    p.executableURL = CLI.binary
    p.arguments = arguments
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    p.standardInput = FileHandle.nullDevice
    for (name, keyPath) in [("out", \Process.standardOutput), ("err", \Process.standardError)] {
      let url = dir.appendingPathComponent("\(tag).\(name)")
      _ = FileManager.default.createFile(atPath: url.path, contents: nil)
      p[keyPath: keyPath] = try FileHandle(forWritingTo: url)
    }
    try p.run()
    return p
  }

  static let stall = ["PARE_TEST_STALL_BEFORE_COMMIT_MS": "1500"]

  @Test("kill -9 in the middle of `pare prune`'s write leaves no output, and the next run removes the leftovers")
  func killDuringWrite() throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    let work = dir.appendingPathComponent("work")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    let out = work.appendingPathComponent("out")
    let p = try Self.start(["prune", TinyBytesModel.gguf, "--out", out.path] + Self.prune, in: dir, tag: "killed",
                           environment: Self.stall)
    // Wait until the staged folder is complete (the stall holds it just before the rename).
    let deadline = Date().addingTimeInterval(20)
    var staged: String?
    while Date() < deadline, p.isRunning {
      staged = Self.entries(work).first { $0.contains(".pare-tmp-") }
      if let staged, FileManager.default.fileExists(atPath: work.appendingPathComponent(staged).appendingPathComponent("report.md").path) { break }
      usleep(10_000)
    }
    #expect(staged != nil, "no staging folder appeared")
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    #expect(p.terminationReason == .uncaughtSignal)
    #expect(!FileManager.default.fileExists(atPath: out.path), "a killed write left \(out.path)")
    #expect(Self.entries(work) == [staged].compactMap { $0 }, "after the kill: \(Self.entries(work))")
    // The next run into the same folder removes the dead process's staging folder.
    let other = work.appendingPathComponent("other")
    let r = try CLI.run(["prune", TinyBytesModel.gguf, "--out", other.path] + Self.prune)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(Self.entries(work) == ["other"], "after the next run: \(Self.entries(work))")
    try Self.expectComplete(other, "next run")
  }

  @Test("kill -9 at arbitrary moments of `pare prune`: the output is absent or complete")
  func killAnywhere() throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out")
    let start = Date()
    let full = try CLI.run(["prune", TinyBytesModel.gguf, "--out", out.path] + Self.prune)
    let seconds = Date().timeIntervalSince(start)
    #expect(full.status == 0, "stderr: \(full.stderr)")
    try FileManager.default.removeItem(at: out)
    for fraction in [0.3, 0.6, 0.8, 0.9, 0.95, 1.0] {
      let p = try Self.start(["prune", TinyBytesModel.gguf, "--out", out.path] + Self.prune, in: dir, tag: "k")
      usleep(UInt32(seconds * fraction * 1_000_000))
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      if FileManager.default.fileExists(atPath: out.path) {
        try Self.expectComplete(out, "killed at \(fraction) of the run")
        try FileManager.default.removeItem(at: out)
      }
    }
    // The next run cleans every leftover of the killed ones.
    let r = try CLI.run(["prune", TinyBytesModel.gguf, "--out", out.path] + Self.prune)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(Self.entries(dir).filter { $0.hasPrefix(".") }.isEmpty, "leftovers: \(Self.entries(dir))")
  }

  /// Runs `pare` under `sh -c` with a shell prefix (a `ulimit`).
  static func runLimited(_ shellPrefix: String, _ arguments: [String]) throws -> CLI.Result {
    let quoted = ([CLI.binary.path] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    return try CLI.runShell(shellPrefix + "; exec " + quoted.joined(separator: " "))
  }

  @Test("a full disk (1 MB tmpfs when it can be mounted, else a file-size limit) gives one error line and nothing half-written")
  func fullDisk() throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    let disk = dir.appendingPathComponent("disk")
    try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
    // The model.safetensors of the tiny model is ~128 KB: a 64 KB tmpfs cannot hold it.
    let mounted = try CLI.runShell("mount -t tmpfs -o size=64k pare-test '\(disk.path)'").status == 0
    defer { if mounted { _ = try? CLI.runShell("umount '\(disk.path)'") } }
    if !mounted {
      print("ReliabilityTests.fullDisk: cannot mount a tmpfs here (needs root); the file-size-limit test covers the write failure")
      return
    }
    let out = disk.appendingPathComponent("out")
    Self.expectOneError(try CLI.run(["prune", TinyBytesModel.gguf, "--out", out.path] + Self.prune),
                        ["could not write", out.path], "prune onto a full tmpfs")
    #expect(Self.entries(disk).isEmpty, "left on the full disk: \(Self.entries(disk))")
  }

  @Test("a file-size limit (ulimit -f, EFBIG) while writing gives one error line and nothing half-written")
  func fileSizeLimit() throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out")
    // 64 blocks (32–64 KB, by the shell's block size): less than model.safetensors (~128 KB).
    let r = try Self.runLimited("ulimit -f 64", ["prune", TinyBytesModel.gguf, "--out", out.path] + Self.prune)
    Self.expectOneError(r, ["could not write", out.path], "prune under ulimit -f")
    #expect(Self.entries(dir).isEmpty, "left behind: \(Self.entries(dir))")
  }

  @Test("a GGUF export's staging file carries its PID and survives another pare cleaning the same folder")
  func exportStagingSurvivesCleanup() throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    let gguf = dir.appendingPathComponent("m.gguf")
    let export = try Self.start(["export", TinyBytesModel.gguf, "--out", gguf.path, "--type", "f32"], in: dir, tag: "export",
                                environment: Self.stall)
    // Wait for the finished staging file (the export then sleeps 1.5 s before its rename).
    var staged: [String] = []
    for _ in 0..<200 where staged.isEmpty {
      usleep(10_000)
      staged = Self.entries(dir).filter { $0.hasPrefix(".m.gguf.pare-tmp-") }
    }
    #expect(staged.count == 1 && staged.allSatisfy { $0.hasPrefix(".m.gguf.pare-tmp-\(export.processIdentifier)-") },
            "staging names: \(staged)")
    // Another writer into the same folder removes the staging files of dead processes only.
    let prune = try CLI.run(["prune", TinyBytesModel.gguf, "--out", dir.appendingPathComponent("p").path,
                             "--sparsity", "0.25", "--criterion", "l2"])
    #expect(prune.status == 0, "\(prune.stderr)")
    export.waitUntilExit()
    let err = try String(contentsOf: dir.appendingPathComponent("export.err"), encoding: .utf8)
    #expect(export.terminationStatus == 0, "export: \(err)")
    #expect(try CLI.run(["inspect", gguf.path]).status == 0)
    #expect(Self.entries(dir).filter { $0.contains(".pare-tmp-") }.isEmpty, "leftovers: \(Self.entries(dir))")
  }

  @Test("two processes writing the same --out: one complete result, never a mix")
  func racingWriters() throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out")
    func race(_ extra: [String]) throws -> [Int32] {
      // Different sparsities, so the two results differ in every file; the stall makes
      // both reach the final rename while the other's output is staged.
      // `--head-ratio modules`: each module loses the fraction s, so the MLP width names the run.
      let a = try Self.start(["prune", TinyBytesModel.gguf, "--out", out.path, "--sparsity", "0.25", "--head-ratio", "modules"] + extra
                             + PruneCommandTests.calibration, in: dir, tag: "a", environment: Self.stall)
      let b = try Self.start(["prune", TinyBytesModel.gguf, "--out", out.path, "--sparsity", "0.5", "--head-ratio", "modules"] + extra
                             + PruneCommandTests.calibration, in: dir, tag: "b", environment: Self.stall)
      a.waitUntilExit()
      b.waitUntilExit()
      return [a.terminationStatus, b.terminationStatus]
    }
    /// The folder holds one run's output: its report's sparsity matches its model's widths.
    func expectConsistent(_ what: String) throws {
      try Self.expectComplete(out, what)
      let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("report.json"))) as? [String: Any])
      let requested = try #require((report["requested_sparsity"] ?? report["sparsity"]) as? Double, "report: \(report.keys.sorted())")
      let inspect = try CLI.run(["inspect", out.path, "--json"])
      let summary = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
      let width = try #require(summary["intermediate_size"] as? Int)
      #expect((requested == 0.25 && width == 36) || (requested == 0.5 && width == 24), "\(what): report \(requested), width \(width)")
    }
    let statuses = try race([])
    #expect(statuses.sorted() == [0, 1], "without --overwrite: \(statuses)")
    let loser = statuses[0] == 1 ? "a" : "b"
    let err = try String(contentsOf: dir.appendingPathComponent("\(loser).err"), encoding: .utf8)
    #expect(err.hasPrefix("error: ") && err.contains("exists"), "the second writer: \(err)")
    try expectConsistent("without --overwrite")
    let both = try race(["--overwrite"])
    #expect(both == [0, 0], "with --overwrite: \(both)")
    try expectConsistent("with --overwrite")
    #expect(Self.entries(dir).filter { $0.hasPrefix(".") }.isEmpty, "leftovers: \(Self.entries(dir))")
  }
}

extension CLI {
  /// Runs `/bin/sh -c script`, capturing its output like `run`.
  static func runShell(_ script: String) throws -> Result {
    let r = try ChildProcess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", script])
    return Result(status: r.status, stdout: String(decoding: r.stdout, as: UTF8.self), stderr: r.stderr)
  }
}
