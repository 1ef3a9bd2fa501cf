// `pare prune`: structured pruning with output-approximation criteria (issue 6).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Prune
import Transformer

enum PruneCommand {
  static let help = """
    usage: pare prune MODEL --out DIR|FILE.gguf (--sparsity S | --keep heads=H,channels=C) [options]

    Removes whole attention heads and MLP channels, layer by layer, and writes the smaller
    model (model.safetensors, config.json with a "pare" block, tokenizer.json, report.json,
    report.md, widths.svg) to DIR atomically. MODEL is never modified.

      --sparsity S            fraction of the attention + MLP parameters of the layers in range (--layers) to remove, in [0, 1)
      --keep heads=H,channels=C   instead of --sparsity: every pruned layer keeps exactly H query heads and
                              C MLP channels, chosen by the criterion (a KV head stays while any query head of
                              its group does); either key alone leaves the other module whole. H ≥ 1, C ≥ 1, at
                              most the layer's count. Excludes --allocation global|energy and --round-to.
      --criterion NAME        exact-moment (default), second-moment, head-similarity, data-free,
                              random, l1, l2, wanda-sp, flap
      --head-similarity TAU   prune heads whose attention patterns nearly coincide first (D < TAU; paper: 0.16–0.20).
                              `--criterion head-similarity` = second-moment + TAU 0.18. With --sparsity 0,
                              exactly the redundant heads are removed.
      --calibration PATH --format wikitext|ptb|text   calibration text (random windows)
      --self-generated        calibrate on text the model writes itself (data-free)
      --samples N             scoring sequences (default \(PruningPlan.defaultSamples))
      --seq-len L             calibration sequence length (default \(PruningPlan.defaultSequenceLength))
      --recovery-samples N    sequences for least squares (default \(PruningPlan.defaultRecoverySamples) with --recovery/--remedy)
      --layers A..<B          layers to prune (default all)
      --allocation uniform|global|energy   (default uniform; energy: relative output damage per parameter, ours)
      --round-to N            kept MLP widths rounded to multiples of N
      --head-ratio R|modules  uniform allocation: remove round(R·s·heads) query heads per layer and fill the
                              layer's parameter budget with MLP channels (R in [0, 2]; default 1 for exact-moment
                              and second-moment); `modules`: each module loses s of its units (the baselines' default)
      --dense-edges N         uniform allocation: leave N layers at each end of the pruned range dense; the
                              others remove the range's whole budget (default 2 for exact-moment and
                              second-moment when the range has at least \(PruningPlan.denseEdgesMinimumLayers) layers, else 0)
      --ramp B                uniform allocation: per-layer sparsity rising with depth, s·(1 + B·(g − mean g)),
                              g = ln(1+i)/ln(layers) (B in [-2, 2]; 0 = flat)
      --obs-steps N           with the remedy: remove each module's units in N greedy slices, by the
                              least-squares error each removal costs after refitting the rest (OBS-style;
                              default 0: remove the lowest-scored units at once)
      --fast                  no least-squares repair: score and remove only (seconds instead of a minute)
      --recovery, --no-recovery   refit level-1 then level-2 weights before removal (Alg. 2–4)
      --remedy, --no-remedy   refit level-2 weights over the kept units after removal
                              (both default on for exact-moment and second-moment with calibration data,
                              off for the baselines, which run as published)
      --target residual|module   least-squares target: the dense module output plus the error already on the
                              residual stream (default, measured best) or the dense module output alone
      --damp X                ridge damping ratio λ/mean(diag) (default 0.8; 0.01 with --damp-prior zero)
      --damp-prior original|dense|zero   what the ridge pulls toward: the weights before each fit, so the remedy
                              pulls toward the recovered ones (λ‖W − W₀‖², ours, default: measured best); the dense
                              model's weights on the kept units (dense); or zero (the paper's λ‖W‖²)
      --seed S                seed for calibration windows, sampling and the random criterion (default 0)
      --dtype f32|f16|bf16    stored weight type (default f32)
      --type T                with --out FILE.gguf: write a GGUF for llama.cpp instead of a folder
                              (f32 default, f16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k; see `pare export --help`)
      --overwrite             replace a non-empty DIR (never the input)
      --allow-non-finite      load (and write) weights holding NaN or Inf instead of refusing them
      --json                  print one JSON summary on stdout
      --progress              progress on stderr even when it is not a terminal
    """

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    let json = args.flag("--json")
    var progress = ProgressReporter(flag: args.flag("--progress"))
    let fast = args.flag("--fast")
    let recoveryOn = args.flag("--recovery"), remedyOn = args.flag("--remedy")
    let recoveryOff = args.flag("--no-recovery"), remedyOff = args.flag("--no-remedy")
    let selfGenerated = args.flag("--self-generated")
    let overwrite = args.flag("--overwrite")
    guard let out = try args.option("--out") else { throw UsageError("--out DIR is required") }
    let keep = try args.option("--keep").map(parseKeep)
    let requestedSparsity = try args.double("--sparsity", in: 0...0.999)
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
    let samples = try args.int("--samples", in: 1...100_000)
    let seqLen = try args.int("--seq-len", in: 2...100_000)
    let recoverySamples = try args.int("--recovery-samples", in: 1...100_000)
    let layers = try args.option("--layers").map(parseLayers)
    let requestedAllocation = try args.choice("--allocation", as: AllocationStrategy.self)
    let requestedRoundTo = try args.int("--round-to", in: 1...65_536)
    let headRatioText = try args.option("--head-ratio")
    // nil: not given; .some(nil): `modules`.
    var headRatio: Double?? = nil
    if let text = headRatioText {
      if text == "modules" {
        headRatio = .some(nil)
      } else if let v = Double(text), v.isFinite, (0...2).contains(v) {
        headRatio = .some(v)
      } else {
        throw UsageError("--head-ratio takes a number in 0...2 or 'modules', got '\(text)'")
      }
    }
    let ramp = try args.double("--ramp", in: -2...2)
    let denseEdges = try args.int("--dense-edges", in: 0...10_000)
    let obsSteps = try args.int("--obs-steps", in: 0...10_000)
    let target = try args.choice("--target", as: ReconstructionTarget.self) ?? .residual
    let damp = try args.double("--damp", in: 0...1e6)
    let dampingPrior = try args.choice("--damp-prior", as: DampingPrior.self) ?? .original
    let seed = try args.int("--seed", in: 0...Int.max) ?? 0
    let dtype = try args.choice("--dtype", as: StorageDType.self) ?? .f32
    let ggufType = try args.option("--type").map(ExportCommand.parseType)
    let modelPath = try args.positional("MODEL")
    try args.finish()
    let writesGGUF = out.lowercased().hasSuffix(".gguf")
    if ggufType != nil && !writesGGUF { throw UsageError("--type goes with --out FILE.gguf") }

    // Validate the combination before opening any file.
    if keep != nil {
      if requestedSparsity != nil { throw UsageError("--keep and --sparsity exclude each other") }
      if let a = requestedAllocation, a != .uniform { throw UsageError("--keep and --allocation \(a.rawValue) exclude each other") }
      if requestedRoundTo != nil { throw UsageError("--keep and --round-to exclude each other") }
      if headRatio != nil || ramp != nil || denseEdges != nil {
        throw UsageError("--keep and --head-ratio/--ramp/--dense-edges exclude each other")
      }
    }
    guard let sparsity = keep == nil ? requestedSparsity : 0 else { throw UsageError("--sparsity S (or --keep heads=H,channels=C) is required") }
    let allocation = requestedAllocation ?? .uniform, roundTo = requestedRoundTo ?? 1
    if allocation != .uniform && (headRatio != nil || ramp != nil || denseEdges != nil) {
      throw UsageError("--head-ratio, --ramp and --dense-edges shape --allocation uniform, not \(allocation.rawValue)")
    }
    if calibrationPath != nil && selfGenerated { throw UsageError("--calibration and --self-generated exclude each other") }
    if calibrationPath == nil && format != nil { throw UsageError("--format goes with --calibration") }
    let calibration: CalibrationSource
    if let calibrationPath {
      guard let format else { throw UsageError("--calibration needs --format wikitext|ptb|text") }
      calibration = .file(path: calibrationPath, format: format)
    } else {
      calibration = selfGenerated ? .selfGenerated : .none
    }
    if recoveryOn && recoveryOff { throw UsageError("--recovery and --no-recovery exclude each other") }
    if remedyOn && remedyOff { throw UsageError("--remedy and --no-remedy exclude each other") }
    if fast && (recoveryOn || remedyOn) { throw UsageError("--fast excludes --recovery and --remedy") }
    let repairs = !fast && PruningPlan.repairsByDefault(criterion: criterion, calibration: calibration)
    let recovery = recoveryOn || (repairs && !recoveryOff), remedy = remedyOn || (repairs && !remedyOff)
    if (obsSteps ?? 0) > 0 && (!remedy || tau != nil) {
      throw UsageError("--obs-steps needs the remedy (not --fast or --no-remedy) and excludes --head-similarity")
    }
    // Ours gets the measured structure unless the flags choose (dense edges need the model's
    // layer count: settled after loading).
    let structure = PruningPlan.structureByDefault(criterion: criterion)
    let uniformShape = keep == nil && allocation == .uniform
    var plan = PruningPlan(sparsity: sparsity, criterion: criterion, headSimilarityTau: tau, allocation: allocation,
                           keep: keep, layers: layers, calibration: calibration, samples: samples, sequenceLength: seqLen,
                           recoverySamples: recoverySamples, recovery: recovery, remedy: remedy, target: target, damp: damp,
                           dampingPrior: dampingPrior, roundTo: roundTo, headRatio: headRatio ?? (uniformShape ? structure.headRatio : nil), ramp: ramp ?? 0,
                           denseEdges: denseEdges ?? 0, obsSteps: obsSteps ?? 0,
                           seed: UInt64(seed))
    if calibration == .none && plan.needsData {
      throw UsageError("criterion \(criterion.rawValue)\(recovery || remedy ? " with recovery/remedy" : "")\(tau != nil ? " with head similarity" : "") needs --calibration PATH --format F or --self-generated (or use --criterion data-free)")
    }
    if let recoverySamples, recoverySamples < plan.samples { throw UsageError("--recovery-samples must be at least --samples") }

    var phases: [PruningReport.Phase] = []
    var mark = Date()
    func phase(_ name: String) {
      phases.append(PruningReport.Phase(name: name, seconds: Date().timeIntervalSince(mark)))
      mark = Date()
    }
    // Refuse a bad target before minutes of pruning (the writers check again).
    if writesGGUF {
      try GGUFExporter.checkTarget(URL(fileURLWithPath: out), overwrite, modelPath)
    } else {
      try ModelWriter(overwrite: overwrite, inputPath: modelPath).checkTarget(URL(fileURLWithPath: out))
    }
    progress.report("loading \(modelPath)", final: true)
    let loaded = try ModelLoader.load(path: modelPath, allowNonFinite: args.allowNonFinite)
    let tokenizer = try Tokenizer.load(modelPath: modelPath)
    let prunedLayers = (layers ?? 0..<loaded.model.config.layerCount).count
    if denseEdges == nil && uniformShape && prunedLayers >= PruningPlan.denseEdgesMinimumLayers {
      plan.denseEdges = structure.denseEdges
    }
    try plan.validate(layerCount: loaded.model.config.layerCount)
    do {
      try plan.validate(config: loaded.model.config)
    } catch {
      // Only `keep` is left to fail: a count beyond a pruned layer's width is a usage error.
      throw UsageError("--keep: \(error.description.replacing("invalid pruning plan: keep ", with: ""))")
    }
    phase("load")

    let sequences = try Calibration.sequences(for: plan, model: loaded.model, tokenizer: tokenizer) { done in
      progress.report("self-generating calibration text: \(done)/\(plan.recoverySamples) sequences", final: done == plan.recoverySamples)
    }
    phase("calibration")

    let result = try PruningPipeline(plan: plan).run(model: loaded.model, sequences: sequences) { message in
      progress.report(message)
    }
    progress.report("pruned: \(result.parametersBefore) → \(result.parametersAfter) parameters", final: true)
    let requested = keep.map { "shape \(PruningReport.keepDescription($0))" } ?? "\(formatFixed(100 * sparsity, 2))%"
    let summary = "pruned \(modelPath): \(result.parametersBefore) → \(result.parametersAfter) parameters; achieved sparsity \(formatFixed(100 * result.achievedSparsity, 2))% (requested \(requested)) of the attention + MLP parameters of the layers in range (all, unless --layers)"

    if writesGGUF {
      let type = ggufType ?? .f32
      let report = try ExportCommand.writeGGUF(loaded, model: result.model, out: out, type: type, overwrite: overwrite)
      if !json { print(summary) }
      ExportCommand.printReport(report, out: out, type: type, source: loaded, json: json)
      return
    }
    var report = result.report
    (report.source, report.phases) = (modelPath, phases + report.phases)
    let writeStart = Date()
    let writer = ModelWriter(dtype: dtype, tokenizerFiles: ["tokenizer.json": try tokenizer.tokenizerJSON()],
                             extraFiles: try report.files(config: result.model.config), overwrite: overwrite,
                             inputPath: loaded.path, allowNonFinite: args.allowNonFinite)
    try writer.write(result.model, to: URL(fileURLWithPath: out))
    report.phases.append(PruningReport.Phase(name: "write", seconds: Date().timeIntervalSince(writeStart)))

    if json {
      (report.layers, report.out) = (nil, out)
      report.layerShapes = result.model.config.layers.map(PruningReport.LayerSize.init)
      print(String(decoding: try report.json(pretty: false), as: UTF8.self))
    } else {
      print(summary)
      print("wrote \(out) (model.safetensors, config.json, tokenizer.json, report.md, report.json, widths.svg)")
    }
  }

  /// Parses `heads=H,channels=C` (either key alone, each at most once, whole numbers ≥ 1).
  static func parseKeep(_ s: String) throws -> KeepShape {
    var keep = KeepShape(), seen: Set<String> = []
    for item in s.split(separator: ",", omittingEmptySubsequences: false) {
      let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      guard pair.count == 2, ["heads", "channels"].contains(pair[0]) else {
        throw UsageError("--keep takes heads=H,channels=C (either alone), got '\(s)'")
      }
      guard seen.insert(pair[0]).inserted else { throw UsageError("--keep names \(pair[0]) twice in '\(s)'") }
      guard let n = Int(pair[1]), n >= 1 else {
        throw UsageError("--keep \(pair[0]) takes a whole number ≥ 1 (a module cannot be removed whole), got '\(pair[1])'")
      }
      if pair[0] == "heads" { keep.heads = n } else { keep.channels = n }
    }
    return keep
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
