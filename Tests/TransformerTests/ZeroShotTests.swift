// Zero-shot protocol pieces on hand-checked examples (lm-evaluation-harness 0.4's task
// YAMLs, hellaswag/utils.py, winogrande/preprocess_winogrande.py, api/model.py _encode_pair,
// api/metrics.py mean_stderr), and the shared-prefix scorer against a plain forward.

import Foundation
import Testing
@testable import Transformer

@Suite("Zero-shot prompts")
struct ZeroShotPromptTests {
  @Test("BoolQ: passage, question with '?', choices no/yes behind the ' ' delimiter")
  func boolq() {
    let item = ZeroShotPrompt.boolq(passage: "Ethanol fuel energy balance.", question: "does ethanol take more energy", answer: false)
    #expect(item.requests.map(\.context) == Array(repeating: "Ethanol fuel energy balance.\nQuestion: does ethanol take more energy?\nAnswer:", count: 2))
    #expect(item.requests.map(\.continuation) == [" no", " yes"])
    #expect(item.choices == ["no", "yes"] && item.gold == 0)
    #expect(ZeroShotPrompt.boolq(passage: "p", question: "q", answer: true).gold == 1)
  }

  @Test("PIQA, ARC and OpenBookQA templates")
  func templates() {
    let piqa = ZeroShotPrompt.piqa(goal: "How do I ready a guinea pig cage?", solutions: ["Put bedding.", "Put jelly."], label: 0)
    #expect(piqa.requests[1] == ("Question: How do I ready a guinea pig cage?\nAnswer:", " Put jelly."))
    let arc = ZeroShotPrompt.arc(question: "Which is a gas?", choices: ["ice", "steam", "rock"], gold: 1)
    #expect(arc.requests.map(\.context).allSatisfy { $0 == "Question: Which is a gas?\nAnswer:" })
    #expect(arc.requests.map(\.continuation) == [" ice", " steam", " rock"])
    let obqa = ZeroShotPrompt.openbookqa(questionStem: "The sun is responsible for", choices: ["puppies", "plants sprouting"], gold: 1)
    #expect(obqa.requests[1] == ("The sun is responsible for", " plants sprouting"))
  }

  @Test("WinoGrande partial scoring: one context per option, the shared remainder as continuation")
  func winogrande() throws {
    let item = try #require(ZeroShotPrompt.winogrande(
      sentence: "Sarah was a much better surgeon than Maria so _ always got the easier cases.",
      options: ["Sarah", "Maria"], answer: 1))
    #expect(item.requests[0] == ("Sarah was a much better surgeon than Maria so Sarah", " always got the easier cases."))
    #expect(item.requests[1] == ("Sarah was a much better surgeon than Maria so Maria", " always got the easier cases."))
    #expect(item.choices == item.requests.map(\.context) && item.gold == 1)
    // The remainder is stripped; "_" at the very end leaves an empty continuation text.
    #expect(ZeroShotPrompt.winogrande(sentence: "He met _ ,  then left. ", options: ["A", "B"], answer: 0)!.requests[0].continuation == " ,  then left.")
    #expect(ZeroShotPrompt.winogrande(sentence: "no blank", options: ["A", "B"], answer: 0) == nil)
  }

  @Test("HellaSwag: preprocess, ctx_b capitalised, context rebuilt from llama.cpp's line")
  func hellaswag() {
    // preprocess: strip, " [title]" → ". ", tags removed, one pass of "  " → " " (the
    // leading space left by a removed tag stays, as in the harness).
    #expect(ZeroShotPrompt.hellaswagPreprocess("  [header] How to x [title] Do y. [step] Z  ") == " How to x. Do y. Z")
    #expect(ZeroShotPrompt.hellaswagPreprocess("[substeps] Keep it.") == " Keep it.")
    #expect(ZeroShotPrompt.hellaswagPreprocess("a [b\n] c") == "a [b\n] c")  // `.` does not cross lines
    let fields = ZeroShotPrompt.hellaswag(activityLabel: "Roof shingle removal", contextA: "A man is sitting on a roof.",
                                          contextB: "he", endings: ["is using wrap to wrap a pair of skis.", "starts pulling up roofing on a roof."], label: 1)
    #expect(fields.requests[0].context == "Roof shingle removal: A man is sitting on a roof. He")
    #expect(fields.requests[1].continuation == " starts pulling up roofing on a roof.")
    // The same item from the 6-line file's context line.
    let line = ZeroShotPrompt.hellaswag(line: "Roof shingle removal: A man is sitting on a roof. he",
                                        endings: ["is using wrap to wrap a pair of skis.", "starts pulling up roofing on a roof."], label: 1)
    #expect(line == fields)
    // capitalize lowers the rest of ctx_b, as Python's str.capitalize.
    #expect(ZeroShotPrompt.splitHellaswagContext("Clean and jerk: A lady walks to a barbell. She bends down. the Lady") ==
            ("Clean and jerk: A lady walks to a barbell. She bends down. ", "the Lady"))
    #expect(ZeroShotPrompt.hellaswag(line: "Clean and jerk: A lady walks. the Lady", endings: ["x"], label: 0).requests[0].context
            == "Clean and jerk: A lady walks. The lady")
    // A context ending a sentence (WikiHow) has an empty ctx_b: nothing is re-cased.
    #expect(ZeroShotPrompt.splitHellaswagContext("Health: How to cope. Put off Any plans.").contextB == "")
    // No sentence end at all: the whole ctx is ctx_b (ctx_a empty).
    #expect(ZeroShotPrompt.hellaswag(line: "Skiing: a Man skis", endings: ["x"], label: 0).requests[0].context == "Skiing: A man skis")
  }

  @Test("Python string helpers: strip, capitalize, len in code points")
  func python() {
    #expect(PythonString.rstrip("Answer: \n\t ") == "Answer:")
    #expect(PythonString.strip("\u{A0} x \u{3000}") == "x")
    #expect(PythonString.capitalize("hELLO wORLD") == "Hello world")
    #expect(PythonString.capitalize("") == "")
    #expect(PythonString.length("e\u{301}") == 2)  // one Character, two code points
  }
}

@Suite("Zero-shot encoding and metrics")
struct ZeroShotEncodingTests {
  /// A toy tokenizer: one token per character, except that "ab" is one token (like a BPE merge).
  static func encode(_ s: String) -> [Int] {
    var out: [Int] = [], chars = Array(s.unicodeScalars), i = 0
    while i < chars.count {
      if chars[i] == "a", i + 1 < chars.count, chars[i + 1] == "b" { out.append(1000); i += 2 }
      else { out.append(Int(chars[i].value)); i += 1 }
    }
    return out
  }

  @Test("context and continuation are tokenised together and split at |encode(context)|")
  func split() {
    let r = ZeroShotEncoding.request(context: "x", continuation: " y", encode: Self.encode)
    #expect(r.tokens == [120, 32, 121] && r.continuationCount == 2)
    // A merge across the boundary: whole = [x, ab, c]; |encode("xa")| = 2, so only "c" is scored.
    let m = ZeroShotEncoding.request(context: "xa", continuation: "bc", encode: Self.encode)
    #expect(m.tokens == [120, 1000, 99] && m.continuationCount == 1)
  }

  @Test("trailing white space of the context moves to the continuation")
  func trailingSpaces() {
    let r = ZeroShotEncoding.request(context: "Q: \n ", continuation: " y", encode: Self.encode)
    #expect(r.tokens == Self.encode("Q: \n  y"))
    #expect(r.continuationCount == 5)  // " \n " + " y" minus nothing: "Q:" is 2 tokens of 7
    let empty = ZeroShotEncoding.request(context: "", continuation: " y", emptyContextToken: 7, encode: Self.encode)
    #expect(empty.tokens == [7, 32, 121] && empty.continuationCount == 2)
  }

  @Test("acc = argmax ll, acc_norm = argmax ll / len(choice); ties go to the first")
  func predictions() {
    let p = ZeroShotMetrics.predictions(logLikelihoods: [-10, -12], choices: ["ab", "abcdefgh"])
    #expect(p.acc == 0 && p.accNorm == 1)  // -5 vs -1.5
    #expect(ZeroShotMetrics.predictions(logLikelihoods: [-3, -3, -4], choices: ["a", "a", "a"]).acc == 0)
    #expect(ZeroShotMetrics.predictions(logLikelihoods: [-4, -3], choices: ["é", "e\u{301}"]).accNorm == 1)  // -4 vs -1.5
  }

  @Test("stderr is the sample standard deviation of the 0/1 scores over √n")
  func stderr() {
    // x = 1,0,1,1: mean .75, Σ(x−x̄)² = 3·.0625 + .5625 = .75, /3 = .25 → sd .5, /√4 → .25.
    #expect(abs(ZeroShotMetrics.meanStandardError([1, 0, 1, 1]) - 0.25) < 1e-15)
    #expect(ZeroShotMetrics.meanStandardError([1]).isNaN)
    let items = [ZeroShotItem(context: "c", choices: ["a", "bbbb"], gold: 1), ZeroShotItem(context: "c", choices: ["a", "bbbb"], gold: 0)]
    let r = ZeroShotEvaluator.result(task: .piqa, items: items, logLikelihoods: [[-1, -2], [-1, -2]])
    #expect(r.acc == 0.5 && r.accNorm == 0.5 && r.predictions.map(\.accNorm) == [1, 1])
    #expect(abs(r.accStderr - 0.5) < 1e-15)  // sd of (0, 1) = √.5, /√2
    #expect(ZeroShotEvaluator.result(task: .boolq, items: items, logLikelihoods: [[-1, -2], [-1, -2]]).accNorm == nil)
  }
}

@Suite("Zero-shot task files")
struct ZeroShotDataTests {
  static func directory(_ files: [String: String]) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-zeroshot-\(UUID().uuidString)")
    for (name, text) in files {
      let url = dir.appendingPathComponent(name)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try Data(text.utf8).write(to: url)
    }
    return dir.path
  }

  @Test("each format is read, --limit keeps the first items, answer keys may be digits")
  func formats() throws {
    let dir = try Self.directory([
      "boolq/dev.jsonl": #"{"question":"is it","title":"T","answer":true,"passage":"P"}"# + "\n" + #"{"question":"q2","title":"T","answer":false,"passage":"P2"}"# + "\n",
      "piqa/valid.jsonl": #"{"goal":"g","sol1":"a","sol2":"b"}"# + "\r\n",
      "piqa/valid-labels.lst": "1\r\n",
      "arc_easy/ARC-Easy-Test.jsonl": #"{"id":"x","question":{"stem":"S","choices":[{"text":"one","label":"1"},{"text":"two","label":"2"},{"text":"three","label":"3"}]},"answerKey":"3"}"#,
      "openbookqa/test.jsonl": #"{"id":"o","question":{"stem":"Stem","choices":[{"text":"A1","label":"A"},{"text":"B1","label":"B"}]},"answerKey":" B"}"#,
      "winogrande/dev.jsonl": #"{"qID":"q","sentence":"A or _ here.","option1":"x","option2":"y","answer":"2"}"#,
      "winogrande/dev-labels.lst": "2\n",
      "hellaswag/hellaswag_val_full.txt": "Act: A man sits. he\n3\ne0\ne1\ne2\ne3 [x]\nAct2: Done.\n0\na\nb\nc\nd\n",
    ])
    let boolq = try ZeroShotData.load(.boolq, directory: dir, limit: 1)
    #expect(boolq.count == 1 && boolq[0].requests[1] == ("P\nQuestion: is it?\nAnswer:", " yes") && boolq[0].gold == 1)
    #expect(try ZeroShotData.load(.boolq, directory: dir).count == 2)
    #expect(try ZeroShotData.load(.piqa, directory: dir)[0].gold == 1)
    let arc = try ZeroShotData.load(.arcEasy, directory: dir)[0]
    #expect(arc.gold == 2 && arc.choices == ["one", "two", "three"])
    #expect(try ZeroShotData.load(.openbookqa, directory: dir)[0].gold == 1)
    #expect(try ZeroShotData.load(.winogrande, directory: dir)[0].requests[1] == ("A or y", " here."))
    let hs = try ZeroShotData.load(.hellaswag, directory: dir)
    #expect(hs.count == 2 && hs[0].gold == 3 && hs[0].requests[0].context == "Act: A man sits. He" && hs[0].choices[3] == "e3 ")
  }

  @Test("bad data: one error naming the file and line")
  func badData() throws {
    let dir = try Self.directory([
      "boolq/dev.jsonl": #"{"question":"q","answer":true,"passage":"P"}"# + "\n{oops\n",
      "piqa/valid.jsonl": #"{"goal":"g","sol1":"a","sol2":"b"}"# + "\n",
      "piqa/valid-labels.lst": "0\n1\n",
      "arc_easy/ARC-Easy-Test.jsonl": #"{"question":{"stem":"S","choices":[{"text":"one","label":"A"}]},"answerKey":"E"}"#,
      "winogrande/dev.jsonl": #"{"sentence":"no blank","option1":"x","option2":"y","answer":"1"}"#,
      "winogrande/dev-labels.lst": "1\n",
      "hellaswag/hellaswag_val_full.txt": "Act: x\n7\na\nb\nc\nd\n",
      "openbookqa/test.jsonl": "\n",
    ])
    func message(_ task: ZeroShotTask) -> String {
      do { _ = try ZeroShotData.load(task, directory: dir); return "no error" } catch { return error.description }
    }
    #expect(message(.boolq).hasSuffix("boolq/dev.jsonl:2: not JSON (expected a value at byte 1)") || message(.boolq).contains("boolq/dev.jsonl:2: not JSON"))
    #expect(message(.piqa).contains("valid-labels.lst: 2 labels for 1 items"))
    #expect(message(.arcEasy).contains("ARC-Easy-Test.jsonl:1: answerKey 'E' is not among the labels"))
    #expect(message(.winogrande).contains("dev.jsonl:1: the sentence has no '_'"))
    #expect(message(.hellaswag).contains("hellaswag_val_full.txt:2: the gold label must be 0-3"))
    #expect(message(.openbookqa).contains("holds no items"))
    #expect(message(.arcChallenge).contains("cannot read") && message(.arcChallenge).contains("no such file"))
  }

  @Test("task lists: known names in order; unknown or repeated names refused")
  func taskList() throws {
    #expect(try ZeroShotTask.parseList("arc_easy,boolq") == [.arcEasy, .boolq])
    #expect(throws: ZeroShotError.unknownTask("mmlu", known: ZeroShotTask.allCases.map(\.rawValue))) { try ZeroShotTask.parseList("boolq,mmlu") }
    #expect(throws: ZeroShotError.duplicateTask("piqa")) { try ZeroShotTask.parseList("piqa,piqa") }
    #expect(throws: ZeroShotError.self) { try ZeroShotTask.parseList("") }
  }
}

@Suite("Zero-shot shared-prefix scoring")
struct ZeroShotScorerTests {
  /// Every request scored by the packed shared-prefix forward equals the plain causal
  /// forward of that request alone.
  func check(_ model: Model, _ items: [[LogLikelihoodRequest]], batchRows: Int) throws {
    let packed = try ZeroShotScorer.logLikelihoods(model: model, items: items, batchRows: batchRows)
    for (k, requests) in items.enumerated() {
      for (i, r) in requests.enumerated() {
        let reference = try ZeroShotScorer.referenceLogLikelihood(model: model, request: r)
        #expect(abs(packed[k][i] - reference) <= 1e-4 * max(1, abs(reference)), "item \(k) request \(i): \(packed[k][i]) vs \(reference)")
        #expect(packed[k][i] < 0)
      }
    }
  }

  static func items(vocabulary v: Int, seed: UInt64) -> [[LogLikelihoodRequest]] {
    var state = seed
    func next(_ n: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int((state >> 33) % UInt64(n)) }
    func tokens(_ n: Int) -> [Int] { (0..<n).map { _ in next(v) } }
    let context = tokens(9)
    return [
      // Multiple choice: one context, continuations of different lengths.
      [LogLikelihoodRequest(tokens: context + tokens(1), continuationCount: 1),
       LogLikelihoodRequest(tokens: context + tokens(4), continuationCount: 4),
       LogLikelihoodRequest(tokens: context + tokens(2), continuationCount: 2)],
      // WinoGrande-like: different contexts sharing a start, one continuation.
      { let shared = tokens(5), rest = tokens(3)
        return [LogLikelihoodRequest(tokens: shared + [1] + rest, continuationCount: 3),
                LogLikelihoodRequest(tokens: shared + [2, 3] + rest, continuationCount: 3)] }(),
      // A one-token context (no shared prefix row at all) and nothing shared.
      [LogLikelihoodRequest(tokens: [5, 6, 7], continuationCount: 2), LogLikelihoodRequest(tokens: [8, 9], continuationCount: 1)],
      // One request only.
      [LogLikelihoodRequest(tokens: tokens(12), continuationCount: 5)],
    ]
  }

  @Test("gpt2 tiny: packed trees equal the plain forward, in one batch or many; long inputs left-truncated")
  func gpt2() throws {
    let model = try FixtureModel.load("gpt2-tiny")
    let items = Self.items(vocabulary: model.config.vocabularySize, seed: 1)
    try check(model, items, batchRows: 512)
    try check(model, items, batchRows: 1)
    // 40 tokens > 32 positions: the harness keeps the last 33 (the input is the first 32 of them).
    let long = [LogLikelihoodRequest(tokens: (0..<40).map { $0 % 80 }, continuationCount: 3),
                LogLikelihoodRequest(tokens: (0..<37).map { $0 % 80 } + [1, 2, 3], continuationCount: 3)]
    try check(model, [long], batchRows: 64)
    #expect(throws: ZeroShotError.self) {
      try ZeroShotScorer.logLikelihoods(model: model, items: [[LogLikelihoodRequest(tokens: Array(0..<40), continuationCount: 33)]])
    }
  }

  @Test("llama GQA tiny (RoPE at each row's own position): packed trees equal the plain forward")
  func llama() throws {
    let model = try ModelLoader.load(path: ForwardFixture.path("llama-gqa.gguf")).model
    try check(model, Self.items(vocabulary: model.config.vocabularySize, seed: 7), batchRows: 512)
    try check(model, Self.items(vocabulary: model.config.vocabularySize, seed: 8), batchRows: 10)
  }

  @Test("pruned llama (uneven heads, KV map and MLP widths per layer): packed trees equal the plain forward")
  func prunedLlama() throws {
    let dense = try ModelLoader.load(path: ForwardFixture.path("llama-gqa.gguf")).model
    let plans = dense.config.layers.enumerated().map { i, shape in
      PrunedLayerPlan(keptHeads: Array(stride(from: i % 2, to: shape.queryHeadCount, by: 2)),
                      keptChannels: Array(stride(from: 0, to: shape.intermediateSize, by: i + 2)))
    }
    let model = pruned(dense, plans: plans)
    #expect(model.config.layers.map(\.queryHeadCount) != dense.config.layers.map(\.queryHeadCount))
    try check(model, Self.items(vocabulary: model.config.vocabularySize, seed: 9), batchRows: 16)
  }
}
