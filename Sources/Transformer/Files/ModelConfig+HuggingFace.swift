// ModelConfig from and to Hugging Face `config.json` (GPT2Config, LlamaConfig), plus Pare's
// "pare" block of per-layer sizes for pruned models.
//
//   gpt2:  n_embd, n_layer, n_head, n_inner (null → 4·n_embd), n_positions, vocab_size,
//          layer_norm_epsilon, activation_function, tie_word_embeddings (default true)
//   llama: hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads,
//          intermediate_size, head_dim, max_position_embeddings, vocab_size, rms_norm_eps,
//          rope_theta (or rope_parameters.rope_theta), hidden_act, tie_word_embeddings
//          (default false), rope_scaling (only none/default accepted)

extension ModelConfig {
  /// Largest layer count, head count or width accepted from a config (sanity bound).
  public static let maxDimension = 1 << 20

  /// Parses an HF `config.json`, including a `"pare"` block of per-layer sizes when present.
  /// - Throws: `ModelFileError` naming the key that is missing or wrong.
  public init(huggingFaceJSON json: JSONValue, source: String = "config.json") throws(ModelFileError) {
    guard json.objectValue != nil else {
      throw .badConfigValue(source: source, key: "(root)", detail: "is not a JSON object")
    }
    func int(_ key: String, default value: Int? = nil, min: Int = 1) throws(ModelFileError) -> Int {
      guard let v = json[key], v != .null else {
        if let value { return value }
        throw .missingConfigKey(source: source, key: key)
      }
      guard let i = v.intValue, i >= min, i <= ModelConfig.maxDimension * 64 else {
        throw .badConfigValue(source: source, key: key, detail: "should be an integer ≥ \(min), got \(v.serialized(indent: 0))")
      }
      return i
    }
    func double(_ key: String, default value: Double) throws(ModelFileError) -> Double {
      guard let v = json[key], v != .null else { return value }
      // Stored as Float: a value beyond Float's range would become ±Inf (found by fuzzing).
      guard let d = v.doubleValue, d.isFinite, Float(d).isFinite, d >= 0 else {
        throw .badConfigValue(source: source, key: key,
                              detail: "should be a finite number ≥ 0 within Float range, got \(v.serialized(indent: 0))")
      }
      return d
    }
    func bool(_ key: String, default value: Bool) throws(ModelFileError) -> Bool {
      guard let v = json[key], v != .null else { return value }
      guard let b = v.boolValue else { throw .badConfigValue(source: source, key: key, detail: "should be true or false") }
      return b
    }
    func tokenID(_ key: String) -> Int? {
      guard let v = json[key] else { return nil }
      if let i = v.intValue { return i }
      return v.arrayValue?.first?.intValue  // llama 3 lists several eos ids
    }

    let modelType = json["model_type"]?.stringValue ?? ""
    let architecture: Architecture
    switch modelType {
    case "gpt2": architecture = .gpt2
    case "llama", "mistral": architecture = .llama
    default:
      if let archs = json["architectures"]?.arrayValue?.compactMap(\.stringValue), archs.contains("LlamaForCausalLM") {
        architecture = .llama
      } else {
        throw .unsupportedArchitecture(modelType.isEmpty ? "(no model_type)" : modelType)
      }
    }

    switch architecture {
    case .gpt2:
      let hidden = try int("n_embd"), heads = try int("n_head"), layers = try int("n_layer")
      let act = json["activation_function"]?.stringValue ?? "gelu_new"
      guard act == "gelu_new" || act == "gelu_pytorch_tanh" else {
        throw .unsupportedFeature("GPT-2 activation '\(act)' (only gelu_new)")
      }
      guard hidden % heads == 0 else {
        throw .badConfigValue(source: source, key: "n_head", detail: "does not divide n_embd \(hidden)")
      }
      let inner = try int("n_inner", default: 4 * hidden)
      self.init(architecture: .gpt2, hiddenSize: hidden, headDimension: hidden / heads,
                vocabularySize: try int("vocab_size"), maxPositions: try int("n_positions", default: try int("n_ctx", default: 1024)),
                normEpsilon: Float(try double("layer_norm_epsilon", default: 1e-5)), ropeTheta: 0,
                activation: .geluTanh, tieWordEmbeddings: try bool("tie_word_embeddings", default: true),
                originalHeadCount: heads, originalKeyValueHeadCount: heads, originalIntermediateSize: inner,
                layers: Array(repeating: .dense(headCount: heads, keyValueHeadCount: heads, intermediateSize: inner),
                              count: layers),
                bosTokenID: tokenID("bos_token_id"), eosTokenID: tokenID("eos_token_id"))
    case .llama:
      let hidden = try int("hidden_size"), heads = try int("num_attention_heads")
      let kvHeads = try int("num_key_value_heads", default: heads), layers = try int("num_hidden_layers")
      guard heads % kvHeads == 0 else {
        throw .badConfigValue(source: source, key: "num_key_value_heads", detail: "does not divide num_attention_heads \(heads)")
      }
      let act = json["hidden_act"]?.stringValue ?? "silu"
      guard act == "silu" else { throw .unsupportedFeature("llama activation '\(act)' (only silu)") }
      if let scaling = json["rope_scaling"], scaling != .null {
        let type = scaling["rope_type"]?.stringValue ?? scaling["type"]?.stringValue ?? "?"
        guard type == "default" else { throw .unsupportedFeature("RoPE scaling '\(type)'") }
      }
      if let params = json["rope_parameters"], let type = params["rope_type"]?.stringValue, type != "default" {
        throw .unsupportedFeature("RoPE scaling '\(type)'")
      }
      var theta = try double("rope_theta", default: 10_000)
      if json["rope_theta"] == nil, let t = json["rope_parameters"]?["rope_theta"]?.doubleValue { theta = t }
      guard hidden % heads == 0 || json["head_dim"] != nil else {
        throw .badConfigValue(source: source, key: "num_attention_heads", detail: "does not divide hidden_size \(hidden)")
      }
      let headDim = try int("head_dim", default: hidden / heads)
      let inner = try int("intermediate_size")
      self.init(architecture: .llama, hiddenSize: hidden, headDimension: headDim,
                vocabularySize: try int("vocab_size"), maxPositions: try int("max_position_embeddings", default: 2048),
                normEpsilon: Float(try double("rms_norm_eps", default: 1e-6)), ropeTheta: Float(theta),
                activation: .silu, tieWordEmbeddings: try bool("tie_word_embeddings", default: false),
                originalHeadCount: heads, originalKeyValueHeadCount: kvHeads, originalIntermediateSize: inner,
                layers: Array(repeating: .dense(headCount: heads, keyValueHeadCount: kvHeads, intermediateSize: inner),
                              count: layers),
                bosTokenID: tokenID("bos_token_id"), eosTokenID: tokenID("eos_token_id"))
    }
    if let pare = json["pare"], pare != .null {
      try applyPareBlock(pare, source: source)
    }
  }

  /// Reads the per-layer sizes of a pruned model from the `"pare"` block.
  private mutating func applyPareBlock(_ pare: JSONValue, source: String) throws(ModelFileError) {
    guard let layerList = pare["layers"]?.arrayValue else {
      throw .badConfigValue(source: source, key: "pare.layers", detail: "should be an array")
    }
    guard layerList.count == layers.count else {
      throw .badConfigValue(source: source, key: "pare.layers",
                            detail: "has \(layerList.count) entries for \(layers.count) layers")
    }
    func ints(_ v: JSONValue?, _ key: String) throws(ModelFileError) -> [Int]? {
      guard let v, v != .null else { return nil }
      guard let a = v.arrayValue, a.count <= ModelConfig.maxDimension else {
        throw .badConfigValue(source: source, key: key, detail: "should be an array of integers")
      }
      var out: [Int] = []
      for x in a {
        guard let i = x.intValue, i >= 0 else { throw .badConfigValue(source: source, key: key, detail: "should hold integers ≥ 0") }
        out.append(i)
      }
      return out
    }
    var shapes: [LayerShape] = []
    for (l, entry) in layerList.enumerated() {
      let key = "pare.layers[\(l)]"
      guard let map = try ints(entry["key_value_head_of_query"], key + ".key_value_head_of_query"),
            let kv = entry["key_value_head_count"]?.intValue, kv >= 0,
            let inner = entry["intermediate_size"]?.intValue, inner >= 0, inner <= ModelConfig.maxDimension * 64 else {
        throw .badConfigValue(source: source, key: key,
                              detail: "needs key_value_head_of_query, key_value_head_count and intermediate_size")
      }
      guard map.allSatisfy({ $0 < kv }), (kv == 0) == map.isEmpty else {
        throw .badConfigValue(source: source, key: key, detail: "maps a query head to a KV head ≥ key_value_head_count \(kv)")
      }
      guard map.count <= originalHeadCount, kv <= originalKeyValueHeadCount, inner <= originalIntermediateSize else {
        throw .badConfigValue(source: source, key: key,
                              detail: "keeps \(map.count) heads, \(kv) KV heads and \(inner) channels, more than the "
                                + "original \(originalHeadCount), \(originalKeyValueHeadCount) and \(originalIntermediateSize)")
      }
      // The original indices of what was kept: one per kept unit, increasing, in range.
      func kept(_ name: String, count: Int, of total: Int) throws(ModelFileError) -> [Int]? {
        guard let list = try ints(entry[name], key + "." + name) else { return nil }
        guard list.count == count, zip(list, list.dropFirst()).allSatisfy({ $0 < $1 }), list.allSatisfy({ $0 < total }) else {
          throw .badConfigValue(source: source, key: key + "." + name,
                                detail: "should list \(count) increasing indices below \(total), got \(list.count) entries")
        }
        return list
      }
      shapes.append(LayerShape(keyValueHeadOfQuery: map, keyValueHeadCount: kv, intermediateSize: inner,
                               originalQueryHeads: try kept("original_query_heads", count: map.count, of: originalHeadCount),
                               originalChannels: try kept("original_channels", count: inner, of: originalIntermediateSize)))
    }
    layers = shapes
  }

  /// The HF `config.json` for this model, with a `"pare"` block holding every layer's sizes
  /// (HF libraries ignore unknown keys; Pare reads it back).
  public func huggingFaceJSON() -> JSONValue {
    var members: [(key: String, value: JSONValue)] = []
    func add(_ key: String, _ value: JSONValue) { members.append((key, value)) }
    func id(_ v: Int?) -> JSONValue { v.map { .int($0) } ?? .null }
    switch architecture {
    case .gpt2:
      add("architectures", .array([.string("GPT2LMHeadModel")]))
      add("model_type", .string("gpt2"))
      add("activation_function", .string("gelu_new"))
      add("n_embd", .int(hiddenSize))
      add("n_head", .int(originalHeadCount))
      add("n_layer", .int(layerCount))
      add("n_inner", .int(originalIntermediateSize))
      add("n_positions", .int(maxPositions))
      add("n_ctx", .int(maxPositions))
      add("vocab_size", .int(vocabularySize))
      add("layer_norm_epsilon", .double(Double(normEpsilon)))
    case .llama:
      add("architectures", .array([.string("LlamaForCausalLM")]))
      add("model_type", .string("llama"))
      add("hidden_act", .string("silu"))
      add("hidden_size", .int(hiddenSize))
      add("head_dim", .int(headDimension))
      add("num_attention_heads", .int(originalHeadCount))
      add("num_key_value_heads", .int(originalKeyValueHeadCount))
      add("num_hidden_layers", .int(layerCount))
      add("intermediate_size", .int(originalIntermediateSize))
      add("max_position_embeddings", .int(maxPositions))
      add("vocab_size", .int(vocabularySize))
      add("rms_norm_eps", .double(Double(normEpsilon)))
      add("rope_theta", .double(Double(ropeTheta)))
      add("attention_bias", .bool(false))
      add("mlp_bias", .bool(false))
    }
    add("tie_word_embeddings", .bool(tieWordEmbeddings))
    add("bos_token_id", id(bosTokenID))
    add("eos_token_id", id(eosTokenID))
    add("torch_dtype", .string("float32"))
    do {  // always present: it marks a folder Pare wrote
      let layerList: [JSONValue] = layers.map { s in
        var m: [(key: String, value: JSONValue)] = [
          ("key_value_head_of_query", .array(s.keyValueHeadOfQuery.map { .int($0) })),
          ("key_value_head_count", .int(s.keyValueHeadCount)),
          ("intermediate_size", .int(s.intermediateSize)),
        ]
        if let q = s.originalQueryHeads { m.append(("original_query_heads", .array(q.map { .int($0) }))) }
        if let c = s.originalChannels { m.append(("original_channels", .array(c.map { .int($0) }))) }
        return .object(m)
      }
      add("pare", .object([("format_version", .int(1)), ("layers", .array(layerList))]))
    }
    return .object(members)
  }
}
