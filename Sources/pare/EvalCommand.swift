// `pare eval`: perplexity per DESIGN.md §4 (issue 5), or zero-shot tasks with
// lm-evaluation-harness 0.4's protocol (issue 15, ZeroShotCommand below).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Transformer

enum EvalCommand {
  static let help = """
    usage: pare eval MODEL --dataset PATH --format wikitext|ptb|text [--seq-len 128]
                     [--max-chunks N] [--batch 8] [--json] [--progress]
           pare eval MODEL --tasks boolq,piqa,hellaswag,winogrande,arc_easy,arc_challenge,openbookqa
                     [--limit N] [--data DIR] [--batch-rows 512] [--json] [--progress]

    Perplexity: the dataset joined as --format says, tokenized once without BOS, cut into
    non-overlapping chunks of --seq-len tokens (remainder dropped); PPL = exp(mean NLL over
    the L−1 predicted positions of every chunk). --batch chunks run per forward.
    Progress goes to stderr when stderr is a terminal, or with --progress.
    --json prints {"perplexity","tokens","chunks","seconds","tokens_per_second"}.

    Zero-shot (--tasks): lm-evaluation-harness 0.4's prompts and scoring on the files under
    --data (default ../shared/data/zeroshot, relative to the working directory). --limit N
    takes the first N items of each task in file order. Prints per task the metric the paper
    reports (acc: boolq, piqa, winogrande, arc_easy; acc_norm: hellaswag, arc_challenge,
    openbookqa) and their average. --batch-rows caps the token rows per forward.
    --json prints {"tasks": {"boolq": {"acc","acc_norm","acc_stderr","items",...}, ...},
    "average": ...}; acc_norm is null where the harness defines none (boolq, winogrande).
    --format is checked against the text (PTB is lower-case; WikiText lines start with a space).
    --allow-non-finite loads weights holding NaN/Inf; a non-finite perplexity is still an error.
    """

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    if let tasks = try args.option("--tasks") { return try ZeroShotCommand.run(&args, tasks: tasks) }
    let json = args.flag("--json")
    let progressFlag = args.flag("--progress")
    guard let dataset = try args.option("--dataset") else { throw UsageError("--dataset PATH is required") }
    guard let format = try args.choice("--format", as: EvaluationText.Format.self) else {
      throw UsageError("--format wikitext|ptb|text is required")
    }
    let seqLen = try args.int("--seq-len", in: 2...1_000_000) ?? 128
    let maxChunks = try args.int("--max-chunks", in: 1...Int.max)
    let batch = try args.int("--batch", in: 1...1024) ?? 8
    let modelPath = try args.positional("MODEL")
    try args.finish()

    let start = Date()
    let model = try ModelLoader.load(path: modelPath, allowNonFinite: args.allowNonFinite).model
    let tokenizer = try Tokenizer.load(modelPath: modelPath)
    let text = try EvaluationText.load(path: dataset, format: format)
    let tokens = tokenizer.encode(text)
    var progress = ProgressReporter(flag: progressFlag)
    let evalStart = Date()
    let result = try Perplexity.evaluate(
      model: model, tokens: tokens, sequenceLength: seqLen, maxChunks: maxChunks, batchSize: batch,
      progress: progress.enabled ? { done, total in
        let elapsed = Date().timeIntervalSince(evalStart)
        let rate = Double(done * seqLen) / max(elapsed, 1e-9)
        let eta = Double((total - done) * seqLen) / max(rate, 1e-9)
        progress.report("eval: \(done)/\(total) chunks, \(formatFixed(rate, 0)) tok/s, \(formatFixed(eta, 0)) s left",
                        final: done == total)
      } : nil)
    let evalSeconds = Date().timeIntervalSince(evalStart)
    let seconds = Date().timeIntervalSince(start)
    if json {
      print(jsonLine(["perplexity": result.perplexity, "tokens": result.tokens, "chunks": result.chunks,
                      "seconds": seconds, "tokens_per_second": Double(result.tokens) / max(evalSeconds, 1e-9),
                      "sequence_length": seqLen, "dataset_tokens": tokens.count, "mean_nll": result.meanNLL]))
    } else {
      let rate = Double(result.tokens) / max(evalSeconds, 1e-9)
      print("perplexity \(formatFixed(result.perplexity, 4)) over \(result.tokens) tokens (\(result.chunks) chunks of \(seqLen); "
            + "\(tokens.count) dataset tokens) in \(formatFixed(seconds, 1)) s (\(formatFixed(rate, 0)) tok/s)")
    }
  }
}
