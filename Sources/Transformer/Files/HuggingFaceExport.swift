// Writing a model as a folder stock `transformers` loads (`AutoModelForCausalLM.from_pretrained`,
// no remote code): `LlamaForCausalLM` and `GPT2LMHeadModel` have one shape for all layers, so a
// pruned model is padded exactly to a uniform shape (ExportLayout's zero heads and channels):
//
// - llama: every layer's query heads in equal contiguous groups (zero query heads where a
//   group is short), the group size S and KV head count K the largest of any layer (zero KV
//   heads with zero query heads where a layer has fewer), the MLP as wide as the widest layer.
//   Biases: `attention_bias` (q, k, v and o together) and `mlp_bias` (gate, up and down
//   together) are switched on when any layer has any of them, with zeros where Pare has none.
// - gpt2: the full head count and the widest MLP (GPT-2 always has biases).
//
// config.json is plain HF (no "pare" block: the folder is a dense-shaped model; Pare reads it
// as a Hugging Face folder). The padding is reported; Pare's own folder format stays the lossless one.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinearAlgebra

/// Writes models as Hugging Face folders.
public enum HuggingFaceExporter {
  /// The uniform, HF-loadable form of `model` and what was added.
  public static func uniform(_ model: Model) -> (model: Model, changes: LayoutChanges, attentionBias: Bool, mlpBias: Bool) {
    switch model.config.architecture {
    case .gpt2:
      let (m, c) = ExportLayout.uniformGPT2(model)
      return (m, c, true, true)
    case .llama:
      return uniformLlama(model)
    }
  }

  static func uniformLlama(_ model: Model) -> (model: Model, changes: LayoutChanges, attentionBias: Bool, mlpBias: Bool) {
    var changes = LayoutChanges()
    changes.parametersBefore = model.weights.parameterCount
    var config = model.config, weights = model.weights
    let d = config.headDimension, h = config.hiddenSize
    // 1. Even contiguous groups per layer (zero query heads only: no KV copies).
    for l in 0..<config.layerCount {
      (config.layers[l], weights.layers[l]) = ExportLayout.evenGroups(config.layers[l], weights.layers[l], d: d, hidden: h,
                                                                       mode: .padHeads, changes: &changes)
    }
    // 2. One group size and KV head count for all layers.
    let groupSize = max(1, config.layers.map { $0.keyValueHeadCount > 0 ? $0.queryHeadCount / $0.keyValueHeadCount : 0 }.max() ?? 1)
    let kvCount = max(1, config.layers.map(\.keyValueHeadCount).max() ?? 1)
    let width = max(1, config.layers.map(\.intermediateSize).max() ?? 1)
    let attentionBias = weights.layers.contains { l in [l.query, l.key, l.value, l.output].contains { $0.bias != nil } }
    let mlpBias = weights.layers.contains { l in [l.gate, l.up, l.down].contains { $0?.bias != nil } }
    for l in 0..<config.layerCount {
      var shape = config.layers[l], layer = weights.layers[l]
      let s = shape.keyValueHeadCount > 0 ? shape.queryHeadCount / shape.keyValueHeadCount : 0
      var queries: [Int?] = [], keyValues: [Int?] = []
      for k in 0..<kvCount {
        keyValues.append(k < shape.keyValueHeadCount ? k : nil)
        for j in 0..<groupSize { queries.append(k < shape.keyValueHeadCount && j < s ? k * s + j : nil) }
      }
      changes.paddedQueryHeads += queries.count - shape.queryHeadCount
      changes.addedKeyValueHeads += kvCount - shape.keyValueHeadCount
      layer = ExportLayout.assembleHeads(layer, queries: queries, keyValues: keyValues, d: d, hidden: h)
      shape = LayerShape(keyValueHeadOfQuery: LayerShape.dense(headCount: queries.count, keyValueHeadCount: kvCount,
                                                               intermediateSize: 0).keyValueHeadOfQuery,
                         keyValueHeadCount: kvCount, intermediateSize: shape.intermediateSize)
      (shape, layer) = ExportLayout.padChannels(shape, layer, to: width, hidden: h, changes: &changes)
      func withBias(_ lin: Linear, _ on: Bool) -> Linear {
        on && lin.bias == nil ? Linear(weight: lin.weight, bias: [Float](repeating: 0, count: lin.outputCount)) : lin
      }
      layer.query = withBias(layer.query, attentionBias)
      layer.key = withBias(layer.key, attentionBias)
      layer.value = withBias(layer.value, attentionBias)
      layer.output = withBias(layer.output, attentionBias)
      layer.gate = layer.gate.map { withBias($0, mlpBias) }
      layer.up = withBias(layer.up, mlpBias)
      layer.down = withBias(layer.down, mlpBias)
      config.layers[l] = shape
      weights.layers[l] = layer
    }
    config.originalHeadCount = groupSize * kvCount
    config.originalKeyValueHeadCount = kvCount
    config.originalIntermediateSize = width
    changes.parametersAfter = weights.parameterCount
    return (Model(config: config, weights: weights), changes, attentionBias, mlpBias)
  }

  /// config.json for the uniform model: HF keys only, biases as flagged.
  static func configJSON(_ config: ModelConfig, attentionBias: Bool, mlpBias: Bool, dtype: StorageDType) -> JSONValue {
    guard case let .object(members) = config.huggingFaceJSON() else { return config.huggingFaceJSON() }
    let dtypeName: String
    switch dtype {
    case .f32: dtypeName = "float32"
    case .f16: dtypeName = "float16"
    case .bf16: dtypeName = "bfloat16"
    }
    return .object(members.compactMap { m in
      switch m.key {
      case "pare": return nil
      case "attention_bias": return (m.key, .bool(attentionBias))
      case "mlp_bias": return (m.key, .bool(mlpBias))
      case "torch_dtype": return (m.key, .string(dtypeName))
      default: return m
      }
    })
  }

  /// Writes the uniform form of `model` to the folder `target` (atomically, as ModelWriter).
  /// `tokenizerFiles` are copied (tokenizer.json, tokenizer_config.json).
  /// - Throws: `ModelFileError` as `ModelWriter.write`.
  @discardableResult
  public static func write(_ model: Model, to target: URL, dtype: StorageDType, tokenizerFiles: [String: Data],
                           overwrite: Bool, inputPath: String?) throws -> LayoutChanges {
    let (uniformModel, changes, attentionBias, mlpBias) = uniform(model)
    var writer = ModelWriter(dtype: dtype, tokenizerFiles: tokenizerFiles, overwrite: overwrite, inputPath: inputPath)
    writer.configJSON = configJSON(uniformModel.config, attentionBias: attentionBias, mlpBias: mlpBias, dtype: dtype)
    try writer.write(uniformModel, to: target)
    return changes
  }
}
