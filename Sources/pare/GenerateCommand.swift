// `pare generate`: text continuation with a KV cache (issue 5).

import Foundation
import Transformer

enum GenerateCommand {
  static let help = """
    usage: pare generate MODEL --prompt S [--max-tokens 64] [--temperature 0.7] [--top-k K]
                         [--top-p P] [--seed 0] [--chat] [--json]

    Prints the prompt followed by the continuation, as it is generated. Temperature 0 is
    greedy; a seed gives the same text every time. --chat wraps the prompt in the ChatML
    template of instruction-tuned models (<|im_start|>user … <|im_start|>assistant).
    Stops at the model's end-of-sequence token. --json prints one object at the end.
    --allow-non-finite loads weights holding NaN/Inf; non-finite logits still stop with an error.
    """

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    let json = args.flag("--json")
    let chat = args.flag("--chat")
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

    let model = try ModelLoader.load(path: modelPath, allowNonFinite: args.allowNonFinite).model
    let tokenizer = try Tokenizer.load(modelPath: modelPath)
    let text = chat ? "<|im_start|>user\n\(prompt)<|im_end|>\n<|im_start|>assistant\n" : prompt
    let ids = tokenizer.encode(text, allowSpecialTokens: chat)
    guard !ids.isEmpty else { throw RuntimeError("the prompt is empty after tokenization") }
    var stop = Set<Int>()
    if let eos = model.config.eosTokenID { stop.insert(eos) }
    if chat, let end = tokenizer.id(forToken: "<|im_end|>") { stop.insert(end) }
    let options = SamplingOptions(temperature: temperature, topK: topK, topP: topP, seed: seed)
    let out = FileHandle.standardOutput
    if !json { out.write(Data(prompt.utf8)) }
    let start = Date()
    var firstTokenSeconds: Double?
    let generated = try model.generate(prompt: ids, maxTokens: maxTokens, options: options, stopTokens: stop) { token in
      if firstTokenSeconds == nil { firstTokenSeconds = Date().timeIntervalSince(start) }
      if !json, !stop.contains(token), let bytes = try? tokenizer.decodeBytes([token], skipSpecialTokens: true) {
        out.write(Data(bytes))
      }
      return true
    }
    let seconds = Date().timeIntervalSince(start)
    let kept = generated.filter { !stop.contains($0) }
    if json {
      let continuation = (try? tokenizer.decode(kept, skipSpecialTokens: true)) ?? ""
      print(jsonLine(["prompt": prompt, "text": continuation, "tokens": generated.count,
                      "prompt_tokens": ids.count, "seconds": seconds,
                      "tokens_per_second": Double(max(generated.count - 1, 0)) / max(seconds - (firstTokenSeconds ?? 0), 1e-9)]))
    } else {
      out.write(Data("\n".utf8))
    }
  }
}
