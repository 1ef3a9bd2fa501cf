// A forward pass over "prefix trees": one shared prefix followed by several branches, each
// branch read as if it directly followed the prefix. This is how the choices of a
// multiple-choice item share one pass over their common context, and how many items share
// one batch of matrix products.
//
// Legend: R = packed rows of the batch, H = hidden, d = head dimension, m = prefix length of
// a tree, s = length of one branch, q / kv = the layer's query / KV head counts.
//
// Rows are packed tree after tree: [prefix, branch 0, branch 1, …]. Prefix row t sits at
// position t and sees prefix rows 0…t; branch row j sits at position m + j and sees the
// whole prefix and its own branch rows 0…j — exactly the rows a plain causal forward of
// prefix + branch would see, so every row's output equals that forward's (up to the order
// of floating-point sums).
//
// Linears and the MLP run on all R rows at once; attention runs per (segment, query head),
// a segment being a prefix or one branch (its keys: the prefix's rows, then its own).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinearAlgebra

/// Token ids of one tree: a shared prefix (may be empty) and its branches (each non-empty).
public struct PrefixTree: Sendable, Equatable {
  public var prefix: [Int]
  public var branches: [[Int]]

  public init(prefix: [Int], branches: [[Int]]) {
    self.prefix = prefix
    self.branches = branches
  }

  /// Rows the tree takes in a packed batch.
  public var rowCount: Int { prefix.count + branches.reduce(0) { $0 + $1.count } }
}

/// Where the trees of a packed batch sit.
struct PackedTrees {
  /// One attention segment: its query rows, and the prefix rows it also reads (before its own).
  struct Segment {
    var rows: Range<Int>
    var prefixRows: Range<Int>
  }
  var tokens: [Int] = []
  var positions: [Int] = []
  var segments: [Segment] = []
  /// For tree k and branch b, the packed rows of the branch.
  var branchRows: [[Range<Int>]] = []

  init(_ trees: [PrefixTree]) {
    for tree in trees {
      let prefixStart = tokens.count
      tokens += tree.prefix
      positions += Array(0..<tree.prefix.count)
      let prefixRows = prefixStart..<tokens.count
      if !prefixRows.isEmpty { segments.append(Segment(rows: prefixRows, prefixRows: prefixRows.lowerBound..<prefixRows.lowerBound)) }
      var rows: [Range<Int>] = []
      for branch in tree.branches {
        let start = tokens.count
        tokens += branch
        positions += (0..<branch.count).map { tree.prefix.count + $0 }
        let r = start..<tokens.count
        segments.append(Segment(rows: r, prefixRows: prefixRows))
        rows.append(r)
      }
      branchRows.append(rows)
    }
  }
}

extension Model {
  /// Final-normed hidden states of every packed row of `trees` (R × H), and for each tree and
  /// branch the rows of that branch.
  /// - Throws: `ForwardError` for an empty batch or branch, out-of-range ids, or a tree longer
  ///   than the model's position limit.
  func prefixTreeHidden(_ trees: [PrefixTree]) throws(ForwardError) -> (normed: Matrix, branchRows: [[Range<Int>]]) {
    guard !trees.isEmpty else { throw .emptyInput }
    for tree in trees {
      guard !tree.branches.isEmpty, tree.branches.allSatisfy({ !$0.isEmpty }) else { throw .emptyInput }
      let longest = tree.prefix.count + tree.branches.map(\.count).max()!
      if longest > config.maxPositions { throw .sequenceTooLong(length: longest, limit: config.maxPositions) }
    }
    let packed = PackedTrees(trees)
    for t in packed.tokens where t < 0 || t >= config.vocabularySize {
      throw .tokenOutOfRange(token: t, vocabularySize: config.vocabularySize)
    }
    // Embeddings (plus learned positions for gpt2) at each row's own position.
    let h = config.hiddenSize
    let table = weights.tokenEmbedding.storage
    var x = [Float]()
    x.reserveCapacity(packed.tokens.count * h)
    for t in packed.tokens { x.append(contentsOf: table[(t * h)..<((t + 1) * h)]) }
    if let positions = weights.positionEmbedding {
      let p = positions.storage
      for (r, pos) in packed.positions.enumerated() {
        for c in 0..<h { x[r * h + c] += p[pos * h + c] }
      }
    }
    var hidden = Matrix(rows: packed.tokens.count, columns: h, storage: x)
    for i in 0..<config.layerCount { hidden = layer(i).forward(packed: hidden, trees: packed) }
    return (applyFinalNorm(hidden), packed.branchRows)
  }
}

extension TransformerLayer {
  /// The layer on packed prefix trees: `r = h + attention(norm1(h))`, then `r + mlp(norm2(r))`.
  func forward(packed hidden: Matrix, trees: PackedTrees) -> Matrix {
    let a = treeAttention(applyNorm(.attention, to: hidden), trees: trees)
    let r = adding(hidden, a)
    return adding(r, mlp(applyNorm(.mlp, to: r)))
  }

  /// Attention of packed trees: every segment's queries against its prefix's keys and then
  /// its own, causally (a branch row j sees m + j + 1 keys).
  func treeAttention(_ x: Matrix, trees: PackedTrees) -> Matrix {
    let d = headDimension, qHeads = shape.queryHeadCount, kvHeads = shape.keyValueHeadCount
    let q = matmulTransposed(x, weights.query.weight, bias: weights.query.bias)
    let k = matmulTransposed(x, weights.key.weight, bias: weights.key.bias)
    let v = matmulTransposed(x, weights.value.weight, bias: weights.value.bias)
    var qr = q, kr = k
    if let rotary {
      let positions = trees.positions
      qr = rotary.apply(to: q, heads: qHeads, position: { positions[$0] })
      kr = rotary.apply(to: k, heads: kvHeads, position: { positions[$0] })
    }
    let segments = trees.segments
    let tasks = segments.count * qHeads
    let slots = ResultSlots<Matrix>(count: tasks)
    let kvMap = shape.keyValueHeadOfQuery
    let scale = 1 / Float(d).squareRoot()
    let rotatedQuery = qr, rotatedKey = kr, values = v
    forEachTask(tasks) { task in
      let segment = segments[task / qHeads], j = task % qHeads, g = kvMap[j]
      let qCols = (j * d)..<((j + 1) * d), kvCols = (g * d)..<((g + 1) * d)
      let qb = block(of: rotatedQuery, rows: segment.rows, columns: qCols)
      var kb = block(of: rotatedKey, rows: segment.rows, columns: kvCols)
      var vb = block(of: values, rows: segment.rows, columns: kvCols)
      let m = segment.prefixRows.count
      if m > 0 {
        let kp = block(of: rotatedKey, rows: segment.prefixRows, columns: kvCols)
        let vp = block(of: values, rows: segment.prefixRows, columns: kvCols)
        kb = Matrix(rows: m + kb.rows, columns: d, storage: kp.storage + kb.storage)
        vb = Matrix(rows: m + vb.rows, columns: d, storage: vp.storage + vb.storage)
      }
      let p = causalSoftmax(matmulTransposed(qb, kb), scale: scale, firstQueryPosition: m)
      slots.set(task, matmul(p, vb))
    }
    let results = slots.values
    let width = qHeads * d
    var context = [Float](repeating: 0, count: x.rows * width)
    for task in 0..<tasks {
      let segment = segments[task / qHeads], j = task % qHeads
      let src = results[task].storage
      for (t, row) in segment.rows.enumerated() {
        let dst = row * width + j * d
        for i in 0..<d { context[dst + i] = src[t * d + i] }
      }
    }
    return matmulTransposed(Matrix(rows: x.rows, columns: width, storage: context), weights.output.weight,
                            bias: weights.output.bias)
  }
}
