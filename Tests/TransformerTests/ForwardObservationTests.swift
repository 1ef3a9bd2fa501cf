// The layer-level API: observations are consistent with each other and with the plain
// layer call, and requesting them does not change the result.

import Foundation
import LinearAlgebra
import Testing
import Transformer

@Suite("Forward observations")
struct ForwardObservationTests {
  @Test("layer.forward = hidden + attention(norm1) + mlp(norm2), with every observation consistent",
        arguments: ["gpt2-tiny", "llama-gqa"])
  func layerDecomposition(name: String) throws {
    let model = try FixtureModel.load(name)
    let ids = try ForwardFixture.golden(name).inputIDs
    let (hidden, batch) = try model.embed(ids)
    let layer = model.layer(0)
    var request = ObservationRequest.all
    request.attentionProbabilitySequences = [1]
    var obs = LayerObservations()
    let out = layer.forward(hidden, batch: batch, observing: request, into: &obs)
    // Observing changes nothing.
    #expect(layer.forward(hidden, batch: batch).storage == out.storage)
    let x1 = try #require(obs.attentionInput), x2 = try #require(obs.mlpInput)
    #expect(x1.storage == layer.applyNorm(.attention, to: hidden).storage)
    let attn = try #require(obs.attentionOutput), mlp = try #require(obs.mlpOutput)
    #expect(attn.storage == layer.attention(x1, batch: batch).storage)
    let residual = try #require(obs.residualAfterAttention)
    #expect(relativeMaxError(residual.storage, adding(hidden, attn).storage) == 0)
    #expect(x2.storage == layer.applyNorm(.mlp, to: residual).storage)
    #expect(mlp.storage == layer.mlp(x2).storage)
    #expect(out.storage == adding(residual, mlp).storage)
    // Level-1 outputs are the linears of the module input.
    let w = layer.weights
    #expect(try #require(obs.query).storage == matmulTransposed(x1, w.query.weight, bias: w.query.bias).storage)
    #expect(try #require(obs.value).storage == matmulTransposed(x1, w.value.weight, bias: w.value.bias).storage)
    #expect(try #require(obs.up).storage == matmulTransposed(x2, w.up.weight, bias: w.up.bias).storage)
    #expect((obs.gate != nil) == (model.config.architecture == .llama))
    // The context is the input of O; the activation is the input of down.
    let ctx = try #require(obs.attentionContext)
    #expect(relativeMaxError(matmulTransposed(ctx, w.output.weight, bias: w.output.bias).storage, attn.storage) == 0)
    let h = try #require(obs.mlpActivation)
    #expect(relativeMaxError(matmulTransposed(h, w.down.weight, bias: w.down.bias).storage, mlp.storage) == 0)
    // Skipping the module outputs records the same level-2 inputs and returns 0 × H.
    var inputsOnly = ObservationRequest()
    inputsOnly.attentionContext = true; inputsOnly.mlpActivation = true; inputsOnly.skipModuleOutput = true
    var partial = LayerObservations()
    #expect(layer.attention(x1, batch: batch, observing: inputsOnly, into: &partial).shape == [0, hidden.columns])
    #expect(layer.mlp(x2, observing: inputsOnly, into: &partial).shape == [0, hidden.columns])
    #expect(partial.attentionContext?.storage == ctx.storage && partial.mlpActivation?.storage == h.storage)
    // Attention probabilities: only the requested sequence, one T × T causal stochastic
    // matrix per head, and ctx of head j at (seq 1, t) = Σ_s P[t,s]·V_g(s).
    #expect(Array(obs.attentionProbabilities.keys) == [1])
    let probs = try #require(obs.attentionProbabilities[1])
    #expect(probs.count == layer.shape.queryHeadCount)
    let t = batch.length, d = model.config.headDimension
    let v = try #require(obs.value)
    for (j, p) in probs.enumerated() {
      #expect(p.rows == t && p.columns == t)
      let g = layer.shape.keyValueHeadOfQuery[j]
      for r in 0..<t {
        var sum = 0.0
        for s in 0..<t { sum += Double(p[r, s]); if s > r { #expect(p[r, s] == 0) } }
        #expect(abs(sum - 1) < 1e-5)
        for i in 0..<d {
          var c = 0.0
          for s in 0...r { c += Double(p[r, s]) * Double(v[t + s, g * d + i]) }
          #expect(abs(c - Double(ctx[t + r, j * d + i])) < 1e-5)
        }
      }
    }
  }

  @Test("causal query blocking does not change the attention output", arguments: ["gpt2-tiny", "llama-gqa"])
  func queryBlocking(name: String) throws {
    let model = try FixtureModel.load(name)
    let ids = try ForwardFixture.golden(name).inputIDs
    let (hidden, batch) = try model.embed(ids)
    var layer = model.layer(1)
    let x = layer.applyNorm(.attention, to: hidden)
    let whole = layer.attention(x, batch: batch)
    for blockRows in [1, 3, 4] {
      layer.attentionQueryBlock = blockRows
      #expect(relativeMaxError(layer.attention(x, batch: batch).storage, whole.storage) <= ForwardTolerance.sameFunction)
    }
  }

  @Test("NLL helper equals log-softmax of the full logits, blockwise and with skipped rows")
  func negativeLogLikelihoods() throws {
    let model = try FixtureModel.load("llama-mha-tied")
    let ids = try ForwardFixture.golden("llama-mha-tied").inputIDs
    let (hidden, _) = try model.hiddenStates(ids)
    let normed = model.applyFinalNorm(hidden)
    let logits = model.logits(normed: normed)
    let targets: [Int?] = (0..<normed.rows).map { $0 % 4 == 3 ? nil : ($0 * 7) % model.config.vocabularySize }
    let nll = model.negativeLogLikelihoods(normed: normed, targets: targets, blockRows: 3)
    for r in 0..<normed.rows {
      guard let target = targets[r] else { #expect(nll[r] == 0); continue }
      let row = logits.row(r).map(Double.init)
      let m = row.max()!
      let lse = m + log(row.map { exp($0 - m) }.reduce(0, +))
      #expect(abs(nll[r] - (lse - row[target])) < 1e-5 * max(1, abs(nll[r])))
    }
  }

  @Test("perplexity: chunks, dropped remainder, and exp(mean NLL) of the L−1 predictions")
  func perplexityProtocol() throws {
    let model = try FixtureModel.load("gpt2-tiny")
    var rng = SplitMix64(seed: 3)
    let tokens = (0..<(5 * 8 + 5)).map { _ in Int(rng.next() % UInt64(model.config.vocabularySize)) }
    var calls: [(Int, Int)] = []
    let result = try Perplexity.evaluate(model: model, tokens: tokens, sequenceLength: 8, maxChunks: 4, batchSize: 3,
                                         progress: { calls.append(($0, $1)) })
    #expect(result.chunks == 4 && result.tokens == 32 && result.predictedTokens == 28)
    #expect(calls.map(\.0) == [3, 4] && calls.allSatisfy { $0.1 == 4 })
    // Independent: per-chunk logits → log-softmax in Double.
    var total = 0.0
    for c in 0..<4 {
      let chunk = Array(tokens[(c * 8)..<((c + 1) * 8)])
      let logits = try model.logits([chunk])
      for t in 0..<7 {
        let row = logits.row(t).map(Double.init)
        let m = row.max()!
        total += m + log(row.map { exp($0 - m) }.reduce(0, +)) - row[chunk[t + 1]]
      }
    }
    #expect(abs(result.perplexity - exp(total / 28)) < 1e-5 * result.perplexity)
    #expect(throws: PerplexityError.tooFewTokens(tokens: 5, sequenceLength: 8)) {
      try Perplexity.evaluate(model: model, tokens: Array(tokens.prefix(5)), sequenceLength: 8)
    }
    #expect(throws: PerplexityError.sequenceLengthTooLarge(length: 64, limit: 32)) {
      try Perplexity.evaluate(model: model, tokens: tokens, sequenceLength: 64)
    }
  }

  @Test("bad token input is a typed error")
  func badInput() throws {
    let model = try FixtureModel.load("gpt2-tiny")
    #expect(throws: ForwardError.tokenOutOfRange(token: 80, vocabularySize: 80)) { try model.logits([[1, 80]]) }
    #expect(throws: ForwardError.raggedBatch(lengths: [2, 1])) { try model.logits([[1, 2], [3]]) }
    #expect(throws: ForwardError.emptyInput) { try model.logits([]) }
    #expect(throws: ForwardError.sequenceTooLong(length: 33, limit: 32)) { try model.logits([Array(repeating: 1, count: 33)]) }
  }
}

@Suite("Sampling")
struct ForwardSamplingTests {
  @Test("temperature 0 is argmax; a seed reproduces the draws")
  func greedyAndSeeded() {
    let logits: [Float] = [0.1, 2.0, 2.0, -1, 0.5]
    var greedy = Sampler(.greedy)
    #expect(greedy.next(logits) == 1)
    var a = Sampler(SamplingOptions(temperature: 1, seed: 42)), b = Sampler(SamplingOptions(temperature: 1, seed: 42))
    let da = (0..<50).map { _ in a.next(logits) }, db = (0..<50).map { _ in b.next(logits) }
    #expect(da == db)
    #expect(Set(da).count > 1)
  }

  @Test("top-k and top-p keep the right candidates with renormalised probabilities")
  func filters() {
    // probabilities at temperature 1 ∝ e^z: z = ln[0.5, 0.3, 0.15, 0.05]
    let logits = [0.5, 0.3, 0.15, 0.05].map { Float(log($0)) }
    let k2 = Sampler(SamplingOptions(temperature: 1, topK: 2)).distribution(logits)
    #expect(k2.map(\.token) == [0, 1])
    #expect(abs(k2[0].probability - 0.625) < 1e-6)
    let p = Sampler(SamplingOptions(temperature: 1, topP: 0.9)).distribution(logits)
    #expect(p.map(\.token) == [0, 1, 2])
    #expect(abs(p[2].probability - 0.15 / 0.95) < 1e-6)
    // Temperature 0.5 squares the odds: 0.5² : 0.3² ...
    let t = Sampler(SamplingOptions(temperature: 0.5)).distribution(logits)
    #expect(abs(t[1].probability / t[0].probability - 0.36) < 1e-6)
    // Empirical frequencies follow the distribution (2000 draws, seeded).
    var s = Sampler(SamplingOptions(temperature: 1, seed: 9))
    var counts = [0, 0, 0, 0]
    for _ in 0..<4000 { counts[s.next(logits)] += 1 }
    #expect(abs(Double(counts[0]) / 4000 - 0.5) < 0.03)
    #expect(abs(Double(counts[3]) / 4000 - 0.05) < 0.015)
  }

  @Test("generation with the KV cache equals greedy decoding by full forwards")
  func generationMatchesFullForward() throws {
    let model = try FixtureModel.load("llama-gqa")
    let prompt = [5, 17, 3]
    let generated = try model.generate(prompt: prompt, maxTokens: 6, options: .greedy)
    var seq = prompt
    for _ in 0..<6 {
      let logits = try model.logits([seq])
      seq.append(Sampler.argmax(logits.row(seq.count - 1)))
    }
    #expect(generated == Array(seq[prompt.count...]))
  }
}
