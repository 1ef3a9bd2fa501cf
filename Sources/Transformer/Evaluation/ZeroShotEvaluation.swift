// Scoring zero-shot items the way lm-evaluation-harness 0.4 does (HFLM, causal models):
//
//   1. split: trailing white space of the context moves to the front of the continuation;
//      whole = encode(context + continuation), n = |encode(context)|,
//      context tokens = whole[..<n], continuation tokens = whole[n...] (no BOS).
//   2. input = whole[-(L+1):][:-1] (left-truncated to the L positions of the model); the
//      log-likelihood is Σ log p(whole[t+1] | whole[…t]) over the continuation tokens.
//   3. acc = [argmax_i ll_i == gold]; acc_norm = [argmax_i ll_i / len(choice_i) == gold]
//      (len in characters); numpy's argmax: the first maximum wins.
//   4. acc_stderr = sample standard deviation / √n (the harness's `mean_stderr`).
//
// Speed: the choices of an item share their common input prefix (PrefixTreeForward.swift)
// and several items run in one batch.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinearAlgebra

/// One log-likelihood request in tokens: the context and continuation tokens joined, and how
/// many of the last tokens are the continuation.
public struct LogLikelihoodRequest: Sendable, Equatable {
  public var tokens: [Int]
  public var continuationCount: Int

  public init(tokens: [Int], continuationCount: Int) {
    self.tokens = tokens
    self.continuationCount = continuationCount
  }
}

/// The harness's context/continuation tokenisation.
public enum ZeroShotEncoding {
  /// Splits (context, continuation) into tokens as the harness's `_encode_pair` does.
  /// `encode` is the tokenizer without BOS. An empty context is replaced by `emptyContextToken`
  /// (the harness uses its prefix token there) and the continuation is encoded alone.
  public static func request(context: String, continuation: String, emptyContextToken: Int? = nil,
                             encode: (String) -> [Int]) -> LogLikelihoodRequest {
    if context.isEmpty {
      let c = encode(continuation)
      return LogLikelihoodRequest(tokens: (emptyContextToken.map { [$0] } ?? []) + c, continuationCount: c.count)
    }
    let kept = PythonString.rstrip(context)
    let moved = String(context.unicodeScalars.dropFirst(kept.unicodeScalars.count))
    let whole = encode(kept + moved + continuation)
    let n = min(encode(kept).count, whole.count)
    return LogLikelihoodRequest(tokens: whole, continuationCount: whole.count - n)
  }
}

/// Summed continuation log-likelihoods for batches of items.
public enum ZeroShotScorer {
  /// Rows packed into one forward (items are added while the batch is below it).
  public static let defaultBatchRows = 512

  /// One tree per item: the requests' shared input prefix and one branch per request, with
  /// the branch-local rows that predict continuation tokens and their targets.
  struct ItemTree {
    var tree: PrefixTree
    /// Per request: (branch-local row, target token) pairs.
    var scored: [[(row: Int, target: Int)]]
  }

  static func itemTree(_ requests: [LogLikelihoodRequest], limit: Int) -> ItemTree? {
    guard !requests.isEmpty else { return nil }
    // Input = whole[-(limit+1):][:-1]; scored positions are the last c of the input.
    let wholes = requests.map { Array($0.tokens.suffix(limit + 1)) }
    let inputs = wholes.map { Array($0.dropLast()) }
    var m = inputs[0].count
    for (i, x) in inputs.enumerated() {
      let c = requests[i].continuationCount
      guard c >= 1, c <= x.count else { return nil }
      m = min(m, x.count - c)
      var common = 0
      while common < min(m, x.count), x[common] == inputs[0][common] { common += 1 }
      m = min(m, common)
    }
    var scored: [[(row: Int, target: Int)]] = []
    for (i, x) in inputs.enumerated() {
      let c = requests[i].continuationCount
      scored.append(((x.count - c)..<x.count).map { p in (p - m, wholes[i][p + 1]) })
    }
    return ItemTree(tree: PrefixTree(prefix: Array(inputs[0][..<m]), branches: inputs.map { Array($0[m...]) }),
                    scored: scored)
  }

  /// ll[item][request] = Σ log p(continuation token | everything before it), in nats.
  /// `progress(itemsDone, itemCount)` runs after every batch.
  /// - Throws: `ZeroShotError.contextTooLong` when a continuation alone exceeds the model's
  ///   positions or is empty; `ForwardError` for bad token ids.
  public static func logLikelihoods(model: Model, items: [[LogLikelihoodRequest]], batchRows: Int = defaultBatchRows,
                                    task: String = "", progress: ((Int, Int) -> Void)? = nil) throws -> [[Double]] {
    let limit = model.config.maxPositions
    var trees: [ItemTree] = []
    for (k, requests) in items.enumerated() {
      guard let t = itemTree(requests, limit: limit) else {
        let worst = requests.map(\.continuationCount).max() ?? 0
        throw ZeroShotError.contextTooLong(task: task, item: k, tokens: worst, limit: limit)
      }
      trees.append(t)
    }
    var result: [[Double]] = []
    result.reserveCapacity(items.count)
    var start = 0
    while start < trees.count {
      var end = start, rows = 0
      while end < trees.count, end == start || rows + trees[end].tree.rowCount <= max(1, batchRows) {
        rows += trees[end].tree.rowCount
        end += 1
      }
      let batch = Array(trees[start..<end])
      let (normed, branchRows) = try model.prefixTreeHidden(batch.map(\.tree))
      var targets = [Int?](repeating: nil, count: normed.rows)
      for (k, t) in batch.enumerated() {
        for (b, pairs) in t.scored.enumerated() {
          for (row, target) in pairs { targets[branchRows[k][b].lowerBound + row] = target }
        }
      }
      let nll = model.negativeLogLikelihoods(normed: normed, targets: targets)
      for (k, t) in batch.enumerated() {
        result.append(t.scored.enumerated().map { b, pairs in
          -pairs.reduce(0.0) { $0 + nll[branchRows[k][b].lowerBound + $1.row] }
        })
      }
      start = end
      progress?(start, trees.count)
    }
    return result
  }

  /// The same quantity by the plain causal forward of the whole input, one request at a time:
  /// the reference the shared-prefix path is tested against.
  public static func referenceLogLikelihood(model: Model, request: LogLikelihoodRequest) throws -> Double {
    let whole = Array(request.tokens.suffix(model.config.maxPositions + 1))
    let input = Array(whole.dropLast())
    let c = request.continuationCount
    guard c >= 1, c <= input.count else {
      throw ZeroShotError.contextTooLong(task: "", item: 0, tokens: c, limit: model.config.maxPositions)
    }
    let (hidden, _) = try model.hiddenStates([input])
    let targets: [Int?] = (0..<input.count).map { p in p >= input.count - c ? whole[p + 1] : nil }
    return -model.negativeLogLikelihoods(normed: model.applyFinalNorm(hidden), targets: targets).reduce(0, +)
  }
}

/// Accuracy arithmetic, as the harness computes it.
public enum ZeroShotMetrics {
  /// numpy's argmax: the index of the first maximum (NaN never wins here).
  public static func argmax(_ values: [Double]) -> Int {
    var best = 0
    for (i, v) in values.enumerated() where v > values[best] || (values[best].isNaN && !v.isNaN) { best = i }
    return best
  }

  /// (acc prediction, acc_norm prediction) for one item's log-likelihoods and choices.
  public static func predictions(logLikelihoods ll: [Double], choices: [String]) -> (acc: Int, accNorm: Int) {
    let normed = zip(ll, choices).map { $0 / Double(PythonString.length($1)) }
    return (argmax(ll), argmax(normed))
  }

  public static func mean(_ x: [Double]) -> Double { x.isEmpty ? .nan : x.reduce(0, +) / Double(x.count) }

  /// The harness's `mean_stderr`: sqrt(Σ(x − x̄)² / (n − 1)) / √n (NaN for n < 2).
  public static func meanStandardError(_ x: [Double]) -> Double {
    guard x.count >= 2 else { return .nan }
    let mu = mean(x)
    let variance = x.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(x.count - 1)
    return variance.squareRoot() / Double(x.count).squareRoot()
  }
}

/// One task's outcome.
public struct ZeroShotTaskResult: Sendable {
  public var task: ZeroShotTask
  public var items: Int
  public var acc: Double
  public var accStderr: Double
  /// nil where the harness defines no acc_norm (BoolQ, WinoGrande).
  public var accNorm: Double?
  public var accNormStderr: Double?
  /// Per item: every request's log-likelihood, and the two predictions.
  public var logLikelihoods: [[Double]]
  public var predictions: [(acc: Int, accNorm: Int)]
  public var seconds: Double

  /// The value the paper reports for this task.
  public var paperValue: Double { task.paperMetric == .acc ? acc : (accNorm ?? acc) }
}

/// Runs whole tasks.
public enum ZeroShotEvaluator {
  /// Tokenises every item of `task` with `tokenizer`, scores it and computes the metrics.
  public static func evaluate(model: Model, tokenizer: Tokenizer, task: ZeroShotTask, items: [ZeroShotItem],
                              batchRows: Int = ZeroShotScorer.defaultBatchRows,
                              progress: ((Int, Int) -> Void)? = nil) throws -> ZeroShotTaskResult {
    let start = Date()
    let emptyContextToken = tokenizer.beginOfSequenceID ?? tokenizer.endOfSequenceID
    let requests = items.map { item in
      item.requests.map { ZeroShotEncoding.request(context: $0.context, continuation: $0.continuation,
                                                   emptyContextToken: emptyContextToken, encode: { tokenizer.encode($0) }) }
    }
    let ll = try ZeroShotScorer.logLikelihoods(model: model, items: requests, batchRows: batchRows,
                                               task: task.rawValue, progress: progress)
    return result(task: task, items: items, logLikelihoods: ll, seconds: Date().timeIntervalSince(start))
  }

  /// The metrics from log-likelihoods already computed.
  public static func result(task: ZeroShotTask, items: [ZeroShotItem], logLikelihoods ll: [[Double]],
                            seconds: Double = 0) -> ZeroShotTaskResult {
    let predictions = zip(ll, items).map { ZeroShotMetrics.predictions(logLikelihoods: $0, choices: $1.choices) }
    let accs = zip(predictions, items).map { $0.acc == $1.gold ? 1.0 : 0.0 }
    let norms = zip(predictions, items).map { $0.accNorm == $1.gold ? 1.0 : 0.0 }
    return ZeroShotTaskResult(
      task: task, items: items.count,
      acc: ZeroShotMetrics.mean(accs), accStderr: ZeroShotMetrics.meanStandardError(accs),
      accNorm: task.definesAccNorm ? ZeroShotMetrics.mean(norms) : nil,
      accNormStderr: task.definesAccNorm ? ZeroShotMetrics.meanStandardError(norms) : nil,
      logLikelihoods: ll, predictions: predictions, seconds: seconds)
  }
}
