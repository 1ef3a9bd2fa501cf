// Zero-shot scoring on SmolLM2 against lm-evaluation-harness itself: the first 50 items of
// each task, run by scripts/zeroshot-goldens.py (the harness's own task YAMLs, the model loaded
// from the same GGUF by transformers) → Tests/TransformerTests/Fixtures/zeroshot/harness-goldens.json.
// Release builds only.

import Foundation
import Testing
import Transformer

@Suite("SmolLM2 zero-shot against lm-evaluation-harness", .serialized)
struct ZeroShotRealModelTests {
  /// Allowed |Pare − harness| per request log-likelihood, in nats:
  /// `absoluteTolerance + relativeTolerance·|ll|`. transformers runs the dequantised GGUF in
  /// float32 as Pare does, so only summation order differs; the forward test
  /// (ForwardRealModelTests) holds whole-text perplexity to 0.1%, and per-token log-probs in
  /// float32 through 30 layers differ by ~1e-4 nats. A request sums up to ~60 of them.
  /// Measured worst case on the 1,100 golden requests: 9.0e-4 nats (PIQA).
  static let absoluteTolerance = 2e-3
  static let relativeTolerance = 2e-4

  struct Request {
    var context: String
    var continuation: String
    var tokens: [Int]
    var continuationCount: Int
    var logLikelihood: Double
  }

  struct Item {
    var gold: Int
    var requests: [Request]
    var accPrediction: Int
    var acc: Double
    var accNorm: Double?
  }

  struct TaskGolden {
    var acc: Double
    var accStderr: Double
    var accNorm: Double?
    var items: [Item]
  }

  static func goldens() throws -> [ZeroShotTask: TaskGolden] {
    let url = RealModel.packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/zeroshot/harness-goldens.json")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    let tasks = try #require(json["tasks"] as? [String: [String: Any]])
    var out: [ZeroShotTask: TaskGolden] = [:]
    for (name, t) in tasks {
      let task = try #require(ZeroShotTask(rawValue: name))
      let items = try #require(t["items"] as? [[String: Any]]).map { i -> Item in
        let requests = (i["requests"] as! [[String: Any]]).map { r in
          Request(context: r["context"] as! String, continuation: r["continuation"] as! String,
                  tokens: r["tokens"] as! [Int], continuationCount: r["continuation_count"] as! Int,
                  logLikelihood: r["loglikelihood"] as! Double)
        }
        return Item(gold: i["gold"] as! Int, requests: requests, accPrediction: i["acc_prediction"] as! Int,
                    acc: i["acc"] as! Double, accNorm: i["acc_norm"] as? Double)
      }
      out[task] = TaskGolden(acc: try #require(t["acc"] as? Double), accStderr: try #require(t["acc_stderr"] as? Double),
                             accNorm: t["acc_norm"] as? Double, items: items)
    }
    return out
  }

  /// The shared-prefix scorer on the harness's own token ids: every log-likelihood within
  /// tolerance, the same acc and acc_norm choices, and the same task metrics.
  @Test("log-likelihoods on the harness's token ids match the harness; identical choices",
        .enabled(if: ForwardRealModelGate.enabled, ForwardRealModelGate.message))
  func harnessTokenIDs() throws {
    let goldens = try Self.goldens()
    #expect(goldens.count == ZeroShotTask.allCases.count)
    let model = try ModelLoader.load(path: RealModel.ggufPath).model
    for task in ZeroShotTask.allCases {
      let golden = try #require(goldens[task])
      #expect(golden.items.count == 50, "\(task.rawValue): \(golden.items.count) golden items")
      let requests = golden.items.map { $0.requests.map { LogLikelihoodRequest(tokens: $0.tokens, continuationCount: $0.continuationCount) } }
      let ll = try ZeroShotScorer.logLikelihoods(model: model, items: requests)
      var worst = 0.0
      for (k, item) in golden.items.enumerated() {
        for (i, r) in item.requests.enumerated() {
          let d = abs(ll[k][i] - r.logLikelihood)
          worst = max(worst, d)
          #expect(d <= Self.absoluteTolerance + Self.relativeTolerance * abs(r.logLikelihood),
                  "\(task.rawValue) item \(k) choice \(i): pare \(ll[k][i]) vs harness \(r.logLikelihood)")
        }
      }
      // Choices as the harness normalises them: the continuation after the delimiter.
      let items = golden.items.map { item in
        ZeroShotItem(requests: item.requests.map { ($0.context, $0.continuation) },
                     choices: task == .winogrande ? item.requests.map(\.context) : item.requests.map { String($0.continuation.dropFirst()) },
                     gold: item.gold)
      }
      let result = ZeroShotEvaluator.result(task: task, items: items, logLikelihoods: ll)
      for (k, item) in golden.items.enumerated() {
        #expect(result.predictions[k].acc == item.accPrediction, "\(task.rawValue) item \(k): acc choice")
        #expect((result.predictions[k].acc == item.gold ? 1.0 : 0.0) == item.acc)
        if let norm = item.accNorm {
          #expect((result.predictions[k].accNorm == item.gold ? 1.0 : 0.0) == norm, "\(task.rawValue) item \(k): acc_norm")
        }
      }
      #expect(abs(result.acc - golden.acc) < 1e-12 && abs(result.accStderr - golden.accStderr) < 1e-12,
              "\(task.rawValue): acc \(result.acc) ± \(result.accStderr) vs harness \(golden.acc) ± \(golden.accStderr)")
      #expect(result.accNorm.map { abs($0 - golden.accNorm!) < 1e-12 } ?? (golden.accNorm == nil))
      print("zero-shot \(task.rawValue): max |Δll| = \(worst) nats; acc \(result.acc) (harness \(golden.acc))")
    }
  }

  /// Pare's own data reading and prompts give the harness's exact (context, continuation)
  /// strings, and Pare's tokenizer the harness's token ids wherever the text has no digit
  /// (SmolLM2's own tokenizer splits digits; transformers' GGUF import does not — README).
  @Test("prompts equal the harness's; token ids equal where the text has no digits",
        .enabled(if: ForwardRealModelGate.enabled, ForwardRealModelGate.message))
  func promptsAndTokens() throws {
    let goldens = try Self.goldens()
    let tokenizer = try Tokenizer.load(modelPath: RealModel.ggufPath)
    var compared = 0, withDigits = 0, differingWithDigits = 0
    for task in ZeroShotTask.allCases {
      let golden = try #require(goldens[task])
      let items = try ZeroShotData.load(task, directory: RealModel.sharedData + "/zeroshot", limit: 50)
      #expect(items.count == golden.items.count)
      for (k, (ours, theirs)) in zip(items, golden.items).enumerated() {
        #expect(ours.gold == theirs.gold, "\(task.rawValue) item \(k): gold")
        #expect(ours.requests.count == theirs.requests.count)
        for (a, b) in zip(ours.requests, theirs.requests) {
          #expect(a.context == b.context, "\(task.rawValue) item \(k): context\n\(a.context.debugDescription)\n\(b.context.debugDescription)")
          #expect(a.continuation == b.continuation, "\(task.rawValue) item \(k): continuation \(a.continuation.debugDescription) vs \(b.continuation.debugDescription)")
          let r = ZeroShotEncoding.request(context: a.context, continuation: a.continuation, encode: { tokenizer.encode($0) })
          let text = a.context + a.continuation
          if text.unicodeScalars.contains(where: { ("0"..."9").contains($0) }) {
            withDigits += 1
            if r.tokens != b.tokens || r.continuationCount != b.continuationCount { differingWithDigits += 1 }
          } else {
            compared += 1
            #expect(r.tokens == b.tokens && r.continuationCount == b.continuationCount,
                    "\(task.rawValue) item \(k): token ids differ from the harness's")
          }
        }
      }
    }
    #expect(compared > 500)
    print("zero-shot tokens: \(compared) digit-free requests identical to the harness; \(differingWithDigits) of \(withDigits) requests with digits tokenise differently (digit splitting)")
  }

  /// End to end on Pare's own tokens: the same choices as the harness on every item whose
  /// requests tokenise identically.
  @Test("pare's own path picks the harness's choices where tokens agree",
        .enabled(if: ForwardRealModelGate.enabled, ForwardRealModelGate.message))
  func endToEnd() throws {
    let goldens = try Self.goldens()
    let model = try ModelLoader.load(path: RealModel.ggufPath).model
    let tokenizer = try Tokenizer.load(modelPath: RealModel.ggufPath)
    var agreeing = 0
    for task in ZeroShotTask.allCases {
      let golden = try #require(goldens[task])
      let items = try ZeroShotData.load(task, directory: RealModel.sharedData + "/zeroshot", limit: 50)
      let result = try ZeroShotEvaluator.evaluate(model: model, tokenizer: tokenizer, task: task, items: items)
      for (k, item) in items.enumerated() {
        let sameTokens = zip(item.requests, golden.items[k].requests).allSatisfy { a, b in
          ZeroShotEncoding.request(context: a.context, continuation: a.continuation, encode: { tokenizer.encode($0) }).tokens == b.tokens
        }
        guard sameTokens else { continue }
        agreeing += 1
        #expect(result.predictions[k].acc == golden.items[k].accPrediction, "\(task.rawValue) item \(k)")
      }
      print("zero-shot \(task.rawValue) (pare tokens): acc \(result.acc) acc_norm \(result.accNorm.map { "\($0)" } ?? "-") vs harness \(golden.acc) \(golden.accNorm.map { "\($0)" } ?? "-")")
    }
    #expect(agreeing > 250)
  }
}
