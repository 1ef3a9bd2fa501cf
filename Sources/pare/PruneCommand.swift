// `pare prune`: structured pruning with output-approximation criteria (issue 6).

import Foundation
import Prune
import Transformer

enum PruneCommand {
  static let help = """
    usage: pare prune MODEL --out DIR --sparsity S [options]

    Removes whole attention heads and MLP channels, layer by layer, and writes the smaller
    model (model.safetensors, config.json with a "pare" block, tokenizer.json, report.json,
    report.md, widths.svg) to DIR atomically. MODEL is never modified.

      --sparsity S            fraction of the attention + MLP parameters of the pruned layers to remove, in [0, 1)
      --criterion NAME        exact-moment (default), second-moment, head-similarity, data-free,
                              random, l1, l2, wanda-sp, flap
      --head-similarity TAU   prune heads whose attention patterns nearly coincide first (D < TAU; paper: 0.16–0.20).
                              `--criterion head-similarity` = second-moment + TAU 0.18. With --sparsity 0,
                              exactly the redundant heads are removed.
      --calibration PATH --format wikitext|ptb|text   calibration text (random windows)
      --self-generated        calibrate on text the model writes itself (data-free)
      --samples N             scoring sequences (default 16)
      --seq-len L             calibration sequence length (default 128)
      --recovery-samples N    sequences for least squares (default 128 with --recovery/--remedy)
      --layers A..<B          layers to prune (default all)
      --allocation uniform|global|energy   (default uniform; energy: relative output damage per parameter, ours)
      --round-to N            kept MLP widths rounded to multiples of N
      --recovery              refit level-1 then level-2 weights before removal (Alg. 2–4)
      --remedy                refit level-2 weights over the kept units after removal
      --target residual|module   least-squares target: the dense module output plus the error already on the
                              residual stream (default, measured best) or the dense module output alone
      --damp X                ridge damping ratio λ/mean(diag) (default 0.1 with --damp-prior original, 0.01 with zero)
      --damp-prior original|zero   what the ridge pulls toward: the weights before the fit (λ‖W − W₀‖², ours,
                              default: measured best) or zero (the paper's λ‖W‖²)
      --seed S                seed for calibration windows, sampling and the random criterion (default 0)
      --dtype f32|f16|bf16    stored weight type (default f32)
      --overwrite             replace a non-empty DIR (never the input)
      --allow-non-finite      load (and write) weights holding NaN or Inf instead of refusing them
      --json                  print one JSON summary on stdout
      --progress              progress on stderr even when it is not a terminal
    """

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    let json = args.flag("--json")
    var progress = ProgressReporter(flag: args.flag("--progress"))
    let recovery = args.flag("--recovery"), remedy = args.flag("--remedy")
    let selfGenerated = args.flag("--self-generated")
    let overwrite = args.flag("--overwrite")
    guard let out = try args.option("--out") else { throw UsageError("--out DIR is required") }
    guard let sparsity = try args.double("--sparsity", in: 0...0.999) else { throw UsageError("--sparsity S is required") }
    let criterionName = try args.option("--criterion") ?? Criterion.exactMoment.rawValue
    var tau = try args.double("--head-similarity", in: 0...1)
    let criterion: Criterion
    if criterionName == "head-similarity" {
      criterion = .secondMoment
      tau = tau ?? 0.18
    } else if let c = Criterion(rawValue: criterionName) {
      criterion = c
    } else {
      throw UsageError("--criterion takes one of \((Criterion.allCases.map(\.rawValue) + ["head-similarity"]).joined(separator: ", ")), got '\(criterionName)'")
    }
    let calibrationPath = try args.option("--calibration")
    let format = try args.choice("--format", as: EvaluationText.Format.self)
    let samples = try args.int("--samples", in: 1...100_000) ?? 16
    let seqLen = try args.int("--seq-len", in: 2...100_000) ?? 128
    let recoverySamples = try args.int("--recovery-samples", in: 1...100_000)
    let layers = try args.option("--layers").map(parseLayers)
    let allocation = try args.choice("--allocation", as: AllocationStrategy.self) ?? .uniform
    let roundTo = try args.int("--round-to", in: 1...65_536) ?? 1
    let target = try args.choice("--target", as: ReconstructionTarget.self) ?? .residual
    let damp = try args.double("--damp", in: 0...1e6)
    let dampingPrior = try args.choice("--damp-prior", as: DampingPrior.self) ?? .original
    let seed = try args.int("--seed", in: 0...Int.max) ?? 0
    let dtype = try args.choice("--dtype", as: StorageDType.self) ?? .f32
    let modelPath = try args.positional("MODEL")
    try args.finish()

    // Validate the combination before opening any file.
    if calibrationPath != nil && selfGenerated { throw UsageError("--calibration and --self-generated exclude each other") }
    if calibrationPath != nil && format == nil { throw UsageError("--calibration needs --format wikitext|ptb|text") }
    if calibrationPath == nil && format != nil { throw UsageError("--format goes with --calibration") }
    let hasData = calibrationPath != nil || selfGenerated
    if !hasData && (criterion.needsData || recovery || remedy || tau != nil) {
      throw UsageError("criterion \(criterion.rawValue)\(recovery || remedy ? " with recovery/remedy" : "")\(tau != nil ? " with head similarity" : "") needs --calibration PATH --format F or --self-generated (or use --criterion data-free)")
    }
    if let recoverySamples, recoverySamples < samples { throw UsageError("--recovery-samples must be at least --samples") }
    let calibration: CalibrationSource = calibrationPath.map { .file(path: $0, format: format!.rawValue) }
      ?? (selfGenerated ? .selfGenerated : .none)
    let plan = PruningPlan(sparsity: sparsity, criterion: criterion, headSimilarityTau: tau, allocation: allocation,
                           layers: layers, calibration: calibration, samples: samples, sequenceLength: seqLen,
                           recoverySamples: recoverySamples ?? (recovery || remedy ? max(samples, 128) : samples),
                           recovery: recovery, remedy: remedy, target: target, damp: damp, dampingPrior: dampingPrior, roundTo: roundTo,
                           seed: UInt64(seed))

    var phases: [(name: String, seconds: Double)] = []
    var mark = Date()
    func phase(_ name: String) {
      phases.append((name, Date().timeIntervalSince(mark)))
      mark = Date()
    }
    progress.report("loading \(modelPath)", final: true)
    let loaded = try ModelLoader.load(path: modelPath, allowNonFinite: args.allowNonFinite)
    let tokenizer = try Tokenizer.load(modelPath: modelPath)
    if let layers, layers.upperBound > loaded.model.config.layerCount {
      throw RuntimeError("--layers \(layers.lowerBound)..<\(layers.upperBound) is outside the model's \(loaded.model.config.layerCount) layers")
    }
    phase("load")

    var sequences: [[Int]] = []
    switch calibration {
    case let .file(path, _):
      let text = try EvaluationText.load(path: path, format: format!)
      let tokens = tokenizer.encode(text)
      sequences = try Calibration.windows(of: tokens, count: plan.recoverySamples, length: seqLen, seed: plan.seed)
    case .selfGenerated:
      sequences = try Calibration.selfGenerated(model: loaded.model, count: plan.recoverySamples, length: seqLen,
                                                seed: plan.seed) { done in
        progress.report("self-generating calibration text: \(done)/\(plan.recoverySamples) sequences", final: done == plan.recoverySamples)
      }
    case .none:
      break
    }
    phase("calibration")

    let result = try PruningPipeline(plan: plan).run(model: loaded.model, sequences: sequences) { message in
      progress.report(message)
    }
    progress.report("pruned: \(result.parametersBefore) → \(result.parametersAfter) parameters", final: true)

    let files = PruningReport.files(result: result, plan: plan, source: modelPath, extraPhases: phases)
    let writeStart = Date()
    let writer = ModelWriter(dtype: dtype, tokenizerFiles: ["tokenizer.json": try tokenizer.tokenizerJSON()],
                             extraFiles: files, overwrite: overwrite, inputPath: loaded.path,
                             allowNonFinite: args.allowNonFinite)
    try writer.write(result.model, to: URL(fileURLWithPath: out))
    phases += result.phases
    phases.append(("write", Date().timeIntervalSince(writeStart)))

    if json {
      var summary = PruningReport.summary(result: result, plan: plan, source: modelPath, phases: phases)
      summary["out"] = out
      summary.removeValue(forKey: "layers")
      summary["layer_shapes"] = result.model.config.layers.map { ["heads": $0.queryHeadCount, "kv_heads": $0.keyValueHeadCount, "channels": $0.intermediateSize] }
      print(jsonLine(summary))
    } else {
      print(String(format: "pruned %@: %d → %d parameters; achieved sparsity %.2f%% (requested %.2f%%) of the pruned layers' attention + MLP parameters",
                   modelPath as NSString, result.parametersBefore, result.parametersAfter, 100 * result.achievedSparsity, 100 * sparsity))
      print("wrote \(out) (model.safetensors, config.json, tokenizer.json, report.md, report.json, widths.svg)")
    }
  }

  /// Parses `A..<B` (half-open) into a range of layer indices.
  static func parseLayers(_ s: String) throws -> Range<Int> {
    let parts = s.components(separatedBy: "..<")
    guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 0, a < b else {
      throw UsageError("--layers takes A..<B with 0 ≤ A < B, got '\(s)'")
    }
    return a..<b
  }
}
