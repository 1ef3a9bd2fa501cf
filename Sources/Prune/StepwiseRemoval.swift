// Greedy removal in steps, scored by the least-squares error each unit's removal costs once
// the rest of level 2 is refitted (Optimal Brain Surgeon's quantity, grouped per unit).
//
// The remedy (Alg. 2–4) refits level 2 over the kept units, so what matters when choosing a
// unit is not its share of the output (the criteria's scores) but how much of it the other
// units cannot take over after the refit. For the damped least-squares problem of level 2,
//
// ```
// A = X̃ᵀX̃ + λI,   Θ* = A⁻¹·(X̃ᵀY + λΘ₀),
// removing the inputs S (then refitting the rest) raises ‖X̃Θ − Y‖² + λ‖Θ − Θ₀‖² by
// Δ_S = tr(Θ*_Sᵀ · ((A⁻¹)_SS)⁻¹ · Θ*_S)
// ```
// exactly. One unit's S is its w level-2 columns (a head: d = 64; a channel: 1). Scoring each
// unit alone ignores how removals interact, so the cut is taken in `steps` slices: after each
// slice the kept units are refitted and rescored (OBS, Hassibi & Stork 1993; SlimGPT applies
// it to heads and channels).
//
// Legend: K = kept level-2 inputs + the intercept; N = outputs (H); w = columns per unit.

import LinearAlgebra
import Transformer

extension LeastSquares {
  /// The `cut` units to remove, chosen greedily in `steps` slices by `Δ` above, and every
  /// unit's `Δ` at the first step (the report's scores; higher = keep).
  ///
  /// - Parameters:
  ///   - units: the input columns of each unit (unit u owns `units[u]`).
  ///   - prior: the ridge prior Θ₀ over all units (as in `solve(keeping:damp:prior:)`).
  /// - Complexity: per step, one Cholesky factorisation and inverse of the kept columns'
  ///   damped Gram (O(K³)), and one solve with N right-hand sides (O(K²·N)).
  /// - Throws: `LinearAlgebraError` when a damped Gram is not positive definite.
  func stepwiseRemoval(units: [[Int]], cut: Int, steps: Int, damp: Double,
                       prior: Linear?) throws(LinearAlgebraError) -> (removed: [Int], scores: [Double]) {
    precondition(steps >= 1 && cut < units.count, "stepwiseRemoval: \(cut) of \(units.count) units in \(steps) steps")
    var kept = Array(units.indices), removed: [Int] = [], firstScores: [Double] = []
    for step in 1...steps {
      let slice = cut * step / steps - removed.count
      guard slice > 0 || step == 1 else { continue }
      let columns = kept.flatMap { units[$0] }
      let deltas = try removalCosts(keptUnits: kept.map { units[$0] }, columns: columns, damp: damp,
                                    prior: prior.map { p in
                                      Linear(weight: p.weight.selectingColumns(columns), bias: p.bias)
                                    })
      if step == 1 { firstScores = deltas }
      let chosen = kept.indices.sorted { (deltas[$0], kept[$0]) < (deltas[$1], kept[$1]) }.prefix(slice).map { kept[$0] }
      removed += chosen
      kept.removeAll { chosen.contains($0) }
    }
    return (removed.sorted(), firstScores)
  }

  /// `Δ_u` of each kept unit (its columns given as positions within `columns`' order after
  /// selection) for the fit on `columns` plus the intercept.
  private func removalCosts(keptUnits: [[Int]], columns: [Int], damp: Double,
                            prior: Linear?) throws(LinearAlgebraError) -> [Double] {
    let index = columns + (intercept ? [inputWidth] : [])
    let k = index.count
    let factor = try CholeskyFactorization(gram.selectingRows(index).selectingColumns(index),
                                           damping: .relativeToMeanDiagonal(damp))
    let theta = factor.solve(rightHandSide(index, keptCount: columns.count, prior: prior, lambda: factor.lambda))
    let inverse = factor.solve(Matrix.identity(k))
    var position = 0
    return keptUnits.map { unit in
      let local = Array(position..<(position + unit.count))
      position += unit.count
      return Self.removalCost(theta: theta.selectingRows(local), inverseBlock: inverse.selectingRows(local).selectingColumns(local))
    }
  }

  /// `tr(Θ_uᵀ · M⁻¹ · Θ_u)` for one unit: Θ_u its w rows of Θ*, M its w × w block of A⁻¹.
  static func removalCost(theta: Matrix, inverseBlock m: Matrix) -> Double {
    if m.rows == 1 {
      return theta.storage.reduce(0.0) { $0 + Double($1) * Double($1) } / max(Double(m[0, 0]), .leastNormalMagnitude)
    }
    guard let block = try? CholeskyFactorization(m, damping: .relativeToMeanDiagonal(1e-6)) else { return .infinity }
    let x = block.solve(theta)
    return zip(theta.storage, x.storage).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
  }
}

extension Matrix {
  /// The n × n identity.
  static func identity(_ n: Int) -> Matrix {
    var m = Matrix(rows: n, columns: n)
    for i in 0..<n { m[i, i] = 1 }
    return m
  }
}
