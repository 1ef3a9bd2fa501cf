// `pare inspect MODEL [--json]`: what a model file or folder holds.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Transformer

enum InspectCommand {
  static let help = """
    usage: pare inspect MODEL [--json]

    Describes a model: family, layers, hidden size, query and KV heads, MLP width (per layer
    when layers differ), vocabulary, parameter count, tensor count, stored dtypes, file size
    and whether the embeddings are tied. MODEL is a GGUF file, a Hugging Face folder
    (config.json + safetensors) or a folder Pare wrote.

    options:
      --json               print one JSON object instead of text
      --allow-non-finite   describe a model whose weights hold NaN or Inf (refused by default)
    """

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    let json = args.flag("--json")
    let path = try args.positional("MODEL")
    try args.finish()
    let loaded = try ModelLoader.load(path: path, allowNonFinite: args.allowNonFinite)
    let summary = summarize(loaded)
    if json {
      print(jsonLine(summary))
    } else {
      print(text(loaded))
    }
  }

  /// Per-layer values when they differ, else the one shared value.
  static func uniformOrList(_ values: [Int]) -> Any {
    Set(values).count <= 1 ? (values.first ?? 0) as Any : values as Any
  }

  static func summarize(_ loaded: LoadedModel) -> [String: Any] {
    let c = loaded.model.config
    let heads = c.layers.map(\.queryHeadCount), kv = c.layers.map(\.keyValueHeadCount)
    let mlp = c.layers.map(\.intermediateSize)
    var out: [String: Any] = [
      "path": loaded.path,
      "format": loaded.format.rawValue,
      "family": c.architecture.rawValue,
      "layers": c.layerCount,
      "hidden_size": c.hiddenSize,
      "head_dim": c.headDimension,
      "heads": uniformOrList(heads),
      "kv_heads": uniformOrList(kv),
      "intermediate_size": uniformOrList(mlp),
      "vocab_size": c.vocabularySize,
      "max_positions": c.maxPositions,
      "norm_eps": Double("\(c.normEpsilon)") ?? Double(c.normEpsilon),
      "parameters": loaded.parameterCount,
      "tensors": loaded.tensorCount,
      "dtypes": loaded.storedDTypes,
      "file_bytes": loaded.fileByteCount,
      "tied_embeddings": c.tieWordEmbeddings,
      "pruned": c.isPruned,
    ]
    if c.architecture == .llama { out["rope_theta"] = Double("\(c.ropeTheta)") ?? Double(c.ropeTheta) }
    if c.isPruned {
      out["original_heads"] = c.originalHeadCount
      out["original_kv_heads"] = c.originalKeyValueHeadCount
      out["original_intermediate_size"] = c.originalIntermediateSize
    }
    return out
  }

  static func text(_ loaded: LoadedModel) -> String {
    let c = loaded.model.config
    func describe(_ values: [Int]) -> String {
      Set(values).count <= 1 ? "\(values.first ?? 0)" : "per layer " + values.map(String.init).joined(separator: ",")
    }
    let mb = Double(loaded.fileByteCount) / 1_000_000
    var lines = [
      "model        \(loaded.path) (\(loaded.format.rawValue))",
      "family       \(c.architecture.rawValue)",
      "layers       \(c.layerCount)",
      "hidden       \(c.hiddenSize) (head dimension \(c.headDimension))",
      "heads        \(describe(c.layers.map(\.queryHeadCount)))",
      "KV heads     \(describe(c.layers.map(\.keyValueHeadCount)))",
      "MLP width    \(describe(c.layers.map(\.intermediateSize)))",
      "vocabulary   \(c.vocabularySize)",
      "parameters   \(loaded.parameterCount)",
      "tensors      \(loaded.tensorCount) (\(loaded.storedDTypes.joined(separator: ", ")))",
      "file size    \(loaded.fileByteCount) bytes (\((mb * 10).rounded() / 10) MB)",
      "tied head    \(c.tieWordEmbeddings ? "yes" : "no")",
    ]
    if c.isPruned {
      lines.append("pruned from  \(c.originalHeadCount) heads, \(c.originalKeyValueHeadCount) KV heads, MLP \(c.originalIntermediateSize)")
    }
    return lines.joined(separator: "\n")
  }
}
