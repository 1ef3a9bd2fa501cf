// The `tokenizer.ggml.*` metadata of a GGUF export.
//
// From a GGUF input every `tokenizer.*` key is carried over as it is (tokens, merges, token
// types, pre-tokenizer name, special ids, chat template). From a folder the keys are rebuilt
// from the loaded tokenizer, as llama.cpp's converter writes them for byte-level BPE:
// model "gpt2", the tokens by id, the merges by rank ("left right"), a token type per token
// (1 normal, 3 control for special added tokens, 4 user-defined for other added tokens), the
// pre-tokenizer by llama.cpp's name for it, BOS/EOS ids, add_bos_token false (Pare never adds
// BOS), and the chat template when the folder
// has one (tokenizer_config.json's `chat_template`).

extension GGUFExporter {
  /// The `tokenizer.*` entries of a GGUF file's metadata, sorted by key.
  public static func tokenizerMetadata(fromGGUF metadata: [String: GGUFValue]) -> [(String, GGUFValue)] {
    metadata.filter { $0.key.hasPrefix("tokenizer.") }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
  }

  /// llama.cpp's `tokenizer.ggml.pre` name for a pre-tokenizer.
  public static func ggmlPreTokenizerName(_ p: PreTokenizer) -> String {
    switch (p.pattern, p.isolatesDigits) {
    case (.gpt2, false): return "gpt-2"
    case (.gpt2, true): return "smollm"
    case (.llama3, _): return "llama-bpe"
    case (.qwen2, _): return "qwen2"
    }
  }

  /// `tokenizer.ggml.*` entries describing `tokenizer`.
  public static func tokenizerMetadata(of tokenizer: Tokenizer, chatTemplate: String? = nil) -> [(String, GGUFValue)] {
    var types = [GGUFValue](repeating: .int32(1), count: tokenizer.tokens.count)
    for added in tokenizer.addedTokens where added.id < types.count { types[added.id] = .int32(added.isSpecial ? 3 : 4) }
    var m: [(String, GGUFValue)] = [
      ("tokenizer.ggml.model", .string("gpt2")),
      ("tokenizer.ggml.pre", .string(ggmlPreTokenizerName(tokenizer.preTokenizer))),
      ("tokenizer.ggml.tokens", .array(tokenizer.tokens.map { .string($0) })),
      ("tokenizer.ggml.token_type", .array(types)),
      ("tokenizer.ggml.merges", .array(tokenizer.merges.map { .string(tokenizer.tokens[$0.left] + " " + tokenizer.tokens[$0.right]) })),
    ]
    // Pare never prepends BOS (DESIGN.md §4): say so, or llama.cpp might.
    m.append(("tokenizer.ggml.add_bos_token", .bool(false)))
    m.append(("tokenizer.ggml.add_space_prefix", .bool(false)))
    if let b = tokenizer.beginOfSequenceID { m.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(b)))) }
    if let e = tokenizer.endOfSequenceID { m.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(e)))) }
    if let chatTemplate { m.append(("tokenizer.chat_template", .string(chatTemplate))) }
    return m
  }
}
