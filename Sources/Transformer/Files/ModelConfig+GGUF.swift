// ModelConfig from GGUF metadata (`ARCH.*` keys, ARCH = general.architecture):
//
//   ARCH.block_count, ARCH.embedding_length, ARCH.feed_forward_length (int or per-layer array),
//   ARCH.attention.head_count (int or per-layer array), ARCH.attention.head_count_kv (idem,
//   default = head_count), ARCH.context_length, ARCH.vocab_size (else the token list's or the
//   embedding's size), ARCH.rope.freq_base (default 10000), ARCH.rope.dimension_count,
//   ARCH.attention.layer_norm_rms_epsilon (llama) / ARCH.attention.layer_norm_epsilon (gpt2),
//   tokenizer.ggml.bos_token_id / eos_token_id. The head is tied when `output.weight` is absent.
//   ARCH = deci (llama.cpp's llama with per-layer sizes, as `pare export` writes it) reads as
//   llama; its layers may have 0 heads (then 0 KV heads) or 0 MLP channels.

extension ModelConfig {
  /// Reads the model description from a GGUF file's metadata and tensor table.
  /// - Throws: `ModelFileError` naming the missing or malformed key.
  public init(gguf file: GGUFFile) throws(ModelFileError) {
    let source = "GGUF metadata"
    guard let arch = file.architecture else { throw .missingConfigKey(source: source, key: "general.architecture") }
    let architecture: Architecture
    switch arch {
    case "llama", "deci": architecture = .llama  // deci: llama with per-layer sizes (Pare's export)
    case "gpt2": architecture = .gpt2
    default: throw .unsupportedArchitecture(arch)
    }
    func scalar(_ key: String, default value: Int? = nil) throws(ModelFileError) -> Int {
      guard let v = file.metadata[key] else {
        if let value { return value }
        throw .missingConfigKey(source: source, key: key)
      }
      guard let i = v.intValue, i >= 1, i <= ModelConfig.maxDimension * 64 else {
        throw .badConfigValue(source: source, key: key, detail: "should be a positive integer")
      }
      return i
    }
    let layerCount = try scalar("\(arch).block_count")
    guard layerCount <= ModelConfig.maxDimension else {
      throw .badConfigValue(source: source, key: "\(arch).block_count", detail: "is absurdly large (\(layerCount))")
    }
    /// A value that is one integer for all layers or an array with one per layer.
    func perLayer(_ key: String, default value: [Int]? = nil, min: Int = 1) throws(ModelFileError) -> [Int] {
      guard let v = file.metadata[key] else {
        if let value { return value }
        throw .missingConfigKey(source: source, key: key)
      }
      if let items = v.arrayValue {
        guard items.count == layerCount else {
          throw .badConfigValue(source: source, key: key, detail: "has \(items.count) entries for \(layerCount) layers")
        }
        var out: [Int] = []
        for item in items {
          guard let i = item.intValue, i >= min, i <= ModelConfig.maxDimension * 64 else {
            throw .badConfigValue(source: source, key: key, detail: "should hold integers ≥ \(min)")
          }
          out.append(i)
        }
        return out
      }
      guard let i = v.intValue, i >= min, i <= ModelConfig.maxDimension * 64 else {
        throw .badConfigValue(source: source, key: key, detail: "should be an integer ≥ \(min)")
      }
      return Array(repeating: i, count: layerCount)
    }
    func float(_ key: String, default value: Double) throws(ModelFileError) -> Double {
      guard let v = file.metadata[key] else { return value }
      guard let d = v.doubleValue, d.isFinite else { throw .badConfigValue(source: source, key: key, detail: "should be a number") }
      return d
    }

    let hidden = try scalar("\(arch).embedding_length")
    // deci layers may have no heads or no MLP channels at all.
    let least = arch == "deci" ? 0 : 1
    let heads = try perLayer("\(arch).attention.head_count", min: least)
    var kvHeads = try perLayer("\(arch).attention.head_count_kv", default: heads, min: least)
    let inner = try perLayer("\(arch).feed_forward_length", min: least)
    for l in 0..<layerCount where heads[l] == 0 { kvHeads[l] = 0 }
    for l in 0..<layerCount where heads[l] > 0 && (kvHeads[l] == 0 || kvHeads[l] > heads[l] || heads[l] % kvHeads[l] != 0) {
      throw .badConfigValue(source: source, key: "\(arch).attention.head_count_kv",
                            detail: "\(kvHeads[l]) does not divide the \(heads[l]) query heads of layer \(l)")
    }
    let maxHeads = max(heads.max() ?? 1, 1)
    let headDim: Int
    if let k = file.metadata["\(arch).attention.key_length"], let d = k.intValue, d > 0 {
      headDim = d
    } else {
      guard hidden % maxHeads == 0 else {
        throw .badConfigValue(source: source, key: "\(arch).attention.head_count", detail: "does not divide \(hidden)")
      }
      headDim = hidden / maxHeads
    }
    if architecture == .llama, let r = file.metadata["\(arch).rope.dimension_count"]?.intValue, r != headDim {
      throw .unsupportedFeature("partial RoPE (rope.dimension_count \(r) ≠ head dimension \(headDim))")
    }
    if let s = file.string("\(arch).rope.scaling.type"), s != "none" {
      throw .unsupportedFeature("RoPE scaling '\(s)'")
    }
    var vocab = file.metadata["\(arch).vocab_size"]?.intValue
    if vocab == nil { vocab = file.metadata["tokenizer.ggml.tokens"]?.arrayValue?.count }
    if vocab == nil, let e = file.tensor(named: "token_embd.weight"), e.dimensions.count == 2 { vocab = e.dimensions[1] }
    guard let vocab, vocab >= 1 else { throw .missingConfigKey(source: source, key: "\(arch).vocab_size") }

    let epsilonKey = architecture == .llama ? "\(arch).attention.layer_norm_rms_epsilon" : "\(arch).attention.layer_norm_epsilon"
    let layers = (0..<layerCount).map {
      LayerShape.dense(headCount: heads[$0], keyValueHeadCount: kvHeads[$0], intermediateSize: inner[$0])
    }
    self.init(architecture: architecture, hiddenSize: hidden, headDimension: headDim, vocabularySize: vocab,
              maxPositions: try scalar("\(arch).context_length", default: 2048),
              normEpsilon: Float(try float(epsilonKey, default: architecture == .llama ? 1e-6 : 1e-5)),
              ropeTheta: architecture == .llama ? Float(try float("\(arch).rope.freq_base", default: 10_000)) : 0,
              activation: architecture == .llama ? .silu : .geluTanh,
              tieWordEmbeddings: file.tensor(named: "output.weight") == nil,
              originalHeadCount: maxHeads, originalKeyValueHeadCount: max(kvHeads.max() ?? 1, 1),
              originalIntermediateSize: max(inner.max() ?? 1, 1), layers: layers,
              bosTokenID: file.int("tokenizer.ggml.bos_token_id"), eosTokenID: file.int("tokenizer.ggml.eos_token_id"))
  }
}
