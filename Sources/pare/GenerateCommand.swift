// `pare generate`: text continuation with a KV cache (issue 5).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import Transformer

enum GenerateCommand {
  static let help = """
    usage: pare generate MODEL --prompt S [--max-tokens 64] [--temperature 0.7] [--top-k K]
                         [--top-p P] [--seed 0] [--chat] [--json] [--dequantized]

    Prints the prompt followed by the continuation, as it is generated. Temperature 0 is
    greedy; a seed gives the same text every time. --chat wraps the prompt in the ChatML
    template of instruction-tuned models (<|im_start|>user … <|im_start|>assistant).
    Stops at the model's end-of-sequence token. --json prints one object at the end.
    --allow-non-finite loads weights holding NaN/Inf; non-finite logits still stop with an error.
    A llama-family GGUF runs on its stored-type weights (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K,
    Q6_K; other types dequantised); --dequantized computes on F32 weights dequantised at load
    instead (the path eval and prune use). One line on stderr reports prefill and decode
    tokens/s; --json adds them to its object.
    """

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    let json = args.flag("--json")
    let chat = args.flag("--chat")
    let dequantized = args.flag("--dequantized")
    guard let prompt = try args.option("--prompt") else { throw UsageError("--prompt S is required") }
    let maxTokens = try args.int("--max-tokens", in: 1...100_000) ?? 64
    let temperature = try args.double("--temperature", in: 0...100) ?? 0.7
    let topK = try args.int("--top-k", in: 1...Int.max)
    let topP = try args.double("--top-p", in: 0.000001...1)
    let seedText = try args.option("--seed")
    var seed: UInt64 = 0
    if let seedText {
      guard let s = UInt64(seedText) else { throw UsageError("--seed takes a whole number ≥ 0, got '\(seedText)'") }
      seed = s
    }
    let modelPath = try args.positional("MODEL")
    try args.finish()

    let runtime = dequantized ? nil : try QuantizedModel.openIfSupported(path: modelPath, allowNonFinite: args.allowNonFinite)
    let model = runtime == nil ? try ModelLoader.load(path: modelPath, allowNonFinite: args.allowNonFinite).model : nil
    guard let config = runtime?.config ?? model?.config else { throw RuntimeError("no model was loaded") }
    let tokenizer = try Tokenizer.load(modelPath: modelPath)
    let text = chat ? "<|im_start|>user\n\(prompt)<|im_end|>\n<|im_start|>assistant\n" : prompt
    let ids = tokenizer.encode(text, allowSpecialTokens: chat)
    guard !ids.isEmpty else { throw RuntimeError("the prompt is empty after tokenization") }
    var stop = Set<Int>()
    if let eos = config.eosTokenID { stop.insert(eos) }
    if chat, let end = tokenizer.id(forToken: "<|im_end|>") { stop.insert(end) }
    let options = SamplingOptions(temperature: temperature, topK: topK, topP: topP, seed: seed)
    if !json { writeStandardOutput(prompt.utf8) }
    let start = Date()
    var firstTokenSeconds: Double?
    let onToken: (Int) -> Bool = { token in
      if firstTokenSeconds == nil { firstTokenSeconds = Date().timeIntervalSince(start) }
      if !json, !stop.contains(token), let bytes = try? tokenizer.decodeBytes([token], skipSpecialTokens: true) {
        writeStandardOutput(bytes)
      }
      return true
    }
    let generated: [Int]
    var timing: GenerationTiming
    if let runtime {
      (generated, timing) = try runtime.generate(prompt: ids, maxTokens: maxTokens, options: options, stopTokens: stop,
                                                 onToken: onToken)
    } else {
      generated = try model!.generate(prompt: ids, maxTokens: maxTokens, options: options, stopTokens: stop, onToken: onToken)
      timing = GenerationTiming()
      timing.promptTokens = ids.count
      timing.prefillSeconds = firstTokenSeconds ?? 0
      timing.decodedTokens = max(generated.count - 1, 0)
      timing.decodeSeconds = Date().timeIntervalSince(start) - (firstTokenSeconds ?? 0)
    }
    let seconds = Date().timeIntervalSince(start)
    let kept = generated.filter { !stop.contains($0) }
    if json {
      let continuation = (try? tokenizer.decode(kept, skipSpecialTokens: true)) ?? ""
      print(jsonLine(["prompt": prompt, "text": continuation, "tokens": generated.count,
                      "prompt_tokens": ids.count, "seconds": seconds,
                      "tokens_per_second": Double(max(generated.count - 1, 0)) / max(seconds - (firstTokenSeconds ?? 0), 1e-9),
                      "prefill_tokens_per_second": timing.prefillTokensPerSecond,
                      "decode_tokens_per_second": timing.decodeTokensPerSecond,
                      "weights": runtime == nil ? "f32" : "stored"]))
    } else {
      writeStandardOutput("\n".utf8)
    }
    writeStandardError("prefill: \(timing.promptTokens) tokens, \(formatFixed(timing.prefillTokensPerSecond, 1)) tokens/s; "
      + "decode: \(timing.decodedTokens) tokens, \(formatFixed(timing.decodeTokensPerSecond, 1)) tokens/s "
      + "(\(runtime == nil ? "dequantised F32" : "stored-type") weights)\n")
  }
}
