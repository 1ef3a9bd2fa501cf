// Checkpoint tensor names, in one place per format. Nothing else in Pare spells them.

/// llama.cpp GGUF names (both families).
enum GGUFTensorNames {
  static let tokenEmbedding = "token_embd.weight"
  static let positionEmbedding = "position_embd.weight"
  static let finalNorm = "output_norm"
  static let outputHead = "output.weight"
  static func attentionNorm(_ l: Int) -> String { "blk.\(l).attn_norm" }
  static func query(_ l: Int) -> String { "blk.\(l).attn_q" }
  static func key(_ l: Int) -> String { "blk.\(l).attn_k" }
  static func value(_ l: Int) -> String { "blk.\(l).attn_v" }
  /// GPT-2's fused Q/K/V projection.
  static func queryKeyValue(_ l: Int) -> String { "blk.\(l).attn_qkv" }
  static func attentionOutput(_ l: Int) -> String { "blk.\(l).attn_output" }
  static func mlpNorm(_ l: Int) -> String { "blk.\(l).ffn_norm" }
  static func gate(_ l: Int) -> String { "blk.\(l).ffn_gate" }
  static func up(_ l: Int) -> String { "blk.\(l).ffn_up" }
  static func down(_ l: Int) -> String { "blk.\(l).ffn_down" }
}

/// Hugging Face `LlamaForCausalLM` names.
enum LlamaTensorNames {
  static let tokenEmbedding = "model.embed_tokens.weight"
  static let finalNorm = "model.norm"
  static let outputHead = "lm_head.weight"
  static func attentionNorm(_ l: Int) -> String { "model.layers.\(l).input_layernorm" }
  static func query(_ l: Int) -> String { "model.layers.\(l).self_attn.q_proj" }
  static func key(_ l: Int) -> String { "model.layers.\(l).self_attn.k_proj" }
  static func value(_ l: Int) -> String { "model.layers.\(l).self_attn.v_proj" }
  static func attentionOutput(_ l: Int) -> String { "model.layers.\(l).self_attn.o_proj" }
  static func mlpNorm(_ l: Int) -> String { "model.layers.\(l).post_attention_layernorm" }
  static func gate(_ l: Int) -> String { "model.layers.\(l).mlp.gate_proj" }
  static func up(_ l: Int) -> String { "model.layers.\(l).mlp.up_proj" }
  static func down(_ l: Int) -> String { "model.layers.\(l).mlp.down_proj" }
}

/// Hugging Face `GPT2LMHeadModel` names. `prefix` is "transformer." in checkpoints saved from
/// `GPT2LMHeadModel`, "" in the original `gpt2` repository's.
enum GPT2TensorNames {
  static func tokenEmbedding(_ p: String) -> String { "\(p)wte.weight" }
  static func positionEmbedding(_ p: String) -> String { "\(p)wpe.weight" }
  static func finalNorm(_ p: String) -> String { "\(p)ln_f" }
  static let outputHead = "lm_head.weight"
  static func attentionNorm(_ p: String, _ l: Int) -> String { "\(p)h.\(l).ln_1" }
  /// Fused Q/K/V, a Conv1D: weight stored (in × out).
  static func queryKeyValue(_ p: String, _ l: Int) -> String { "\(p)h.\(l).attn.c_attn" }
  static func attentionOutput(_ p: String, _ l: Int) -> String { "\(p)h.\(l).attn.c_proj" }
  static func mlpNorm(_ p: String, _ l: Int) -> String { "\(p)h.\(l).ln_2" }
  static func up(_ p: String, _ l: Int) -> String { "\(p)h.\(l).mlp.c_fc" }
  static func down(_ p: String, _ l: Int) -> String { "\(p)h.\(l).mlp.c_proj" }
}
