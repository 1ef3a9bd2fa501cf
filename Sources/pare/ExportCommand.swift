// `pare export`: any model Pare reads, as a GGUF file llama.cpp loads or a folder stock
// transformers loads (issue 13).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Transformer

enum ExportCommand {
  static let help = """
    usage: pare export MODEL --out FILE.gguf [--type f32|f16|bf16|q8_0|q4_0|q4_1|q4_k|q6_k] [--overwrite]
           pare export MODEL --out DIR --format hf [--dtype f32|f16|bf16] [--overwrite]

    Writes MODEL (a GGUF file, a Hugging Face folder or a folder Pare wrote, dense or pruned)
    as a GGUF file for llama.cpp (the default) or as a Hugging Face folder that
    AutoModelForCausalLM.from_pretrained loads without remote code. The file is written
    atomically; MODEL is never modified.

    GGUF: layers that share one shape are written as llama.cpp's `llama` (or `gpt2`)
    architecture, per-layer shapes as `deci`. Uneven query-head groups are made even exactly
    (zero query heads or copied KV heads, whichever gives fewer heads), and MLP widths are
    padded with zero channels to whole 32-element quantisation blocks; the output says what
    was added. Norms and biases stay F32. K-quant rows that are not whole 256-blocks fall back
    to Q5_0 (Q4_K) or Q8_0 (Q6_K), as llama-quantize does.

      --type T                type of the weight matrices (default f32)
      --groups auto|pad-heads|duplicate-kv   how uneven query-head groups are made even (default auto)
      --format gguf|hf        output kind (default gguf)
      --dtype f32|f16|bf16    HF folder weight type (default f32)
      --overwrite             replace an existing output (never the input)
      --json                  print one JSON summary on stdout
    """

  /// `--type` names (lower case) of the writable GGUF types.
  static func parseType(_ s: String) throws -> GGMLType {
    guard let t = GGUFExporter.writableTypes.first(where: { $0.name.lowercased() == s.lowercased() }) else {
      throw UsageError("--type takes one of \(GGUFExporter.writableTypes.map { $0.name.lowercased() }.joined(separator: ", ")), got '\(s)'")
    }
    return t
  }

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    let json = args.flag("--json")
    let overwrite = args.flag("--overwrite")
    guard let out = try args.option("--out") else { throw UsageError("--out FILE.gguf or --out DIR --format hf is required") }
    let format = try args.option("--format") ?? "gguf"
    let typeName = try args.option("--type")
    let dtype = try args.choice("--dtype", as: StorageDType.self)
    let groups = try args.choice("--groups", as: GroupEvening.self) ?? .auto
    let modelPath = try args.positional("MODEL")
    try args.finish()
    switch format {
    case "gguf":
      if dtype != nil { throw UsageError("--dtype goes with --format hf (GGUF takes --type)") }
      guard out.lowercased().hasSuffix(".gguf") else { throw UsageError("--out must end in .gguf (or pass --format hf for a folder)") }
      let type = try typeName.map(parseType) ?? .f32
      let loaded = try ModelLoader.load(path: modelPath, allowNonFinite: args.allowNonFinite)
      let report = try writeGGUF(loaded, out: out, type: type, groups: groups, overwrite: overwrite)
      printReport(report, out: out, type: type, source: loaded, json: json)
    case "hf":
      if typeName != nil { throw UsageError("--type goes with GGUF output (HF folders take --dtype)") }
      if out.lowercased().hasSuffix(".gguf") { throw UsageError("--format hf writes a folder; --out should not end in .gguf") }
      let loaded = try ModelLoader.load(path: modelPath, allowNonFinite: args.allowNonFinite)
      try HuggingFaceExportCommand.write(loaded, modelPath: modelPath, out: out, dtype: dtype ?? .f32,
                                         overwrite: overwrite, json: json)
    default:
      throw UsageError("--format takes gguf or hf, got '\(format)'")
    }
  }

  /// The `tokenizer.*` metadata for a model read from `loaded`: a GGUF input's own keys, or
  /// keys rebuilt from the folder's tokenizer (nil when the folder has none).
  static func tokenizerMetadata(_ loaded: LoadedModel) -> [(String, GGUFValue)]? {
    if loaded.format == .gguf {
      let m = GGUFExporter.tokenizerMetadata(fromGGUF: loaded.ggufMetadata)
      return m.isEmpty ? nil : m
    }
    guard let tokenizer = try? Tokenizer.load(modelPath: loaded.path) else { return nil }
    var template: String?
    if let folder = loaded.folder,
       let data = try? Data(contentsOf: folder.appendingPathComponent("tokenizer_config.json")),
       let object = try? JSONValue.parse(data) {
      template = object["chat_template"]?.stringValue
    }
    return GGUFExporter.tokenizerMetadata(of: tokenizer, chatTemplate: template)
  }

  /// Writes `loaded` as GGUF; shared with `pare prune --out FILE.gguf`.
  static func writeGGUF(_ loaded: LoadedModel, model: Model? = nil, out: String, type: GGMLType,
                        groups: GroupEvening = .auto, overwrite: Bool) throws -> GGUFExportReport {
    let tokenizer = tokenizerMetadata(loaded)
    if tokenizer == nil {
      printError("note: \(loaded.path) has no tokenizer Pare can read; the GGUF has no tokenizer.* keys (llama.cpp needs them)")
    }
    let name = URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent
    let options = GGUFExporter.Options(type: type, groups: groups, overwrite: overwrite, inputPath: loaded.path, name: name)
    return try GGUFExporter.write(model ?? loaded.model, tokenizer: tokenizer ?? [], to: URL(fileURLWithPath: out),
                                  options: options)
  }

  static func printReport(_ report: GGUFExportReport, out: String, type: GGMLType, source: LoadedModel?, json: Bool) {
    if json {
      var summary: [String: Any] = [
        "out": out, "type": type.name, "architecture": report.architecture, "bytes": report.byteCount,
        "tensor_types": report.tensorTypes, "fallbacks": report.fallbacks,
        "padded_query_heads": report.layout.paddedQueryHeads, "added_kv_heads": report.layout.addedKeyValueHeads,
        "padded_channels": report.layout.paddedChannels, "parameters_before": report.layout.parametersBefore,
        "parameters_after": report.layout.parametersAfter,
      ]
      if let source { summary["input_bytes"] = source.fileByteCount }
      print(jsonLine(summary))
      return
    }
    var line = "wrote \(out): \(report.byteCount) bytes, \(type.name)"
    if let source {
      let percent = 100 * Double(report.byteCount) / Double(max(source.fileByteCount, 1))
      line += " (input \(source.fileByteCount) bytes: \(formatFixed(percent, 1))%)"
    }
    print(line)
    for l in report.lines { print("  " + l) }
  }
}
