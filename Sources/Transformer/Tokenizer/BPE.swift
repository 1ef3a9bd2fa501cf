/// Byte-pair merging of one pre-tokenised piece.
///
/// A piece starts as one symbol per byte (the id of that byte's single-byte token). Merge
/// rule r (rank r, lower first) replaces an adjacent pair (a, b) by the token a+b. The
/// algorithm applies, again and again, the lowest-ranked rule that matches any adjacent pair,
/// at its leftmost match, until no rule matches (Hugging Face `tokenizers`' order).
///
/// Three implementations with one contract: `mergeReference` (quadratic, plain, the ground
/// truth for tests), `mergeShort` (pair ranks kept in an array: O(n) per merge, for the
/// short pieces that make up ordinary text) and `mergeLong` (binary heap over a linked
/// list: O(n log n), so that a megabyte-long piece cannot stall encoding).

/// Merge rules keyed by the pair of ids: an open-addressing hash table (linear probing).
struct MergeTable: Sendable {
  /// key = left << 32 | right; `UInt64.max` marks an empty slot.
  private var keys: [UInt64]
  /// value = rank << 32 | merged id.
  private var values: [UInt64]
  private let shift: UInt64
  private(set) var count = 0

  init(capacityFor n: Int) {
    var bits = 4
    while (1 << bits) < max(16, n * 2) { bits += 1 }
    keys = [UInt64](repeating: .max, count: 1 << bits)
    values = [UInt64](repeating: 0, count: 1 << bits)
    shift = UInt64(64 - bits)
  }

  @inline(__always)
  private func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

  /// Adds a rule; an existing pair keeps its first (lower) rank, as in HF.
  mutating func insert(left: Int32, right: Int32, rank: Int32, merged: Int32) {
    let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    var s = slot(key)
    let mask = keys.count - 1
    while keys[s] != .max {
      if keys[s] == key { return }
      s = (s + 1) & mask
    }
    keys[s] = key
    values[s] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
    count += 1
  }

  /// (rank, merged id) of the rule for (left, right), or rank `Int32.max` when none.
  @inline(__always)
  func lookup(_ left: Int32, _ right: Int32) -> (rank: Int32, merged: Int32) {
    let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    var s = slot(key)
    let mask = keys.count - 1
    while true {
      let k = keys[s]
      if k == key {
        let v = values[s]
        return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v))
      }
      if k == .max { return (Int32.max, -1) }
      s = (s + 1) & mask
    }
  }
}

/// Reusable buffers for merging one piece after another.
struct MergeScratch {
  var symbols: [Int32] = []
  var ranks: [Int32] = []
  var merged: [Int32] = []
}

enum BPE {
  /// Pieces longer than this many symbols use the heap algorithm.
  static let shortPieceLimit = 64

  /// The plain algorithm: scan all pairs, merge the best leftmost one, repeat. O(n²).
  static func mergeReference(_ symbols: [Int32], _ table: MergeTable) -> [Int32] {
    var s = symbols
    while s.count > 1 {
      var best: (rank: Int32, merged: Int32, at: Int) = (Int32.max, -1, -1)
      for p in 0..<(s.count - 1) {
        let m = table.lookup(s[p], s[p + 1])
        if m.rank < best.rank { best = (m.rank, m.merged, p) }
      }
      if best.at < 0 { break }
      s[best.at] = best.merged
      s.remove(at: best.at + 1)
    }
    return s
  }

  /// Dispatches on length; appends the result to `out`.
  @inline(__always)
  static func merge(_ scratch: inout MergeScratch, _ table: MergeTable, into out: inout [Int32]) {
    if scratch.symbols.count <= shortPieceLimit {
      mergeShort(&scratch.symbols, table, ranks: &scratch.ranks, merged: &scratch.merged)
      out.append(contentsOf: scratch.symbols)
    } else {
      out.append(contentsOf: mergeLong(scratch.symbols, table))
    }
  }

  /// `mergeShort` with its own buffers.
  static func mergeShort(_ s: inout [Int32], _ table: MergeTable) {
    var ranks: [Int32] = [], merged: [Int32] = []
    mergeShort(&s, table, ranks: &ranks, merged: &merged)
  }

  /// Same contract as `mergeReference`, for short pieces: `ranks[p]` caches the rule of
  /// pair (p, p+1), so each merge costs one scan for the minimum and two lookups.
  /// `ranks` and `merged` are scratch buffers (reused across pieces to avoid allocation).
  static func mergeShort(_ s: inout [Int32], _ table: MergeTable, ranks: inout [Int32], merged: inout [Int32]) {
    var n = s.count
    if n < 2 { return }
    ranks.removeAll(keepingCapacity: true)
    merged.removeAll(keepingCapacity: true)
    for p in 0..<(n - 1) {
      let m = table.lookup(s[p], s[p + 1])
      ranks.append(m.rank)
      merged.append(m.merged)
    }
    while n > 1 {
      var best = 0
      var bestRank = ranks[0]
      var p = 1
      while p < n - 1 {
        if ranks[p] < bestRank { bestRank = ranks[p]; best = p }
        p += 1
      }
      if bestRank == Int32.max { break }
      s[best] = merged[best]
      s.remove(at: best + 1)
      ranks.remove(at: best)
      merged.remove(at: best)
      n -= 1
      if best > 0 {
        let m = table.lookup(s[best - 1], s[best])
        ranks[best - 1] = m.rank
        merged[best - 1] = m.merged
      }
      if best < n - 1 {
        let m = table.lookup(s[best], s[best + 1])
        ranks[best] = m.rank
        merged[best] = m.merged
      }
    }
    s.removeSubrange(n...)
  }

  /// Same contract as `mergeReference`, for long pieces: symbols form a doubly linked list
  /// over their original positions; candidate merges sit in a min-heap keyed by
  /// rank << 32 | position (so ties go to the leftmost), and stale entries are skipped.
  static func mergeLong(_ symbols: [Int32], _ table: MergeTable) -> [Int32] {
    let n = symbols.count
    var s = symbols
    var next = Array(1...n)            // n = end of list
    var prev = Array(-1..<(n - 1))     // -1 = start of list
    var alive = [Bool](repeating: true, count: n)
    var heap: [UInt64] = []
    heap.reserveCapacity(n)

    func push(_ key: UInt64) {
      heap.append(key)
      var c = heap.count - 1
      while c > 0 {
        let parent = (c - 1) / 2
        if heap[parent] <= heap[c] { break }
        heap.swapAt(parent, c)
        c = parent
      }
    }
    func pop() -> UInt64 {
      let top = heap[0]
      let last = heap.removeLast()
      if !heap.isEmpty {
        heap[0] = last
        var c = 0
        while true {
          let l = 2 * c + 1, r = l + 1
          var m = c
          if l < heap.count && heap[l] < heap[m] { m = l }
          if r < heap.count && heap[r] < heap[m] { m = r }
          if m == c { break }
          heap.swapAt(m, c)
          c = m
        }
      }
      return top
    }
    func consider(_ p: Int) {
      guard p >= 0, next[p] < n else { return }
      let rank = table.lookup(s[p], s[next[p]]).rank
      if rank != Int32.max { push(UInt64(UInt32(rank)) << 32 | UInt64(p)) }
    }

    for p in 0..<(n - 1) { consider(p) }
    while !heap.isEmpty {
      let key = pop()
      let p = Int(key & 0xFFFF_FFFF), rank = Int32(key >> 32)
      guard alive[p], next[p] < n else { continue }
      let q = next[p]
      let m = table.lookup(s[p], s[q])
      guard m.rank == rank else { continue }  // stale: the pair changed since the push
      s[p] = m.merged
      alive[q] = false
      next[p] = next[q]
      if next[q] < n { prev[next[q]] = p }
      consider(prev[p])
      consider(p)
    }
    var out: [Int32] = []
    var p = 0
    while p < n { out.append(s[p]); p = next[p] }
    return out
  }
}
