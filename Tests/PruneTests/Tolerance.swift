/// The tolerances of the Prune tests, each with its reason. Float32 data, Double statistics.
/// (NumpyGoldenTests keeps its own, measured against numpy.)
enum Tolerance {
  /// The same Double formula over the same Float32 data, summed in another order: relative
  /// differences of a few ulps of Double.
  static let sameFormulaRelative = 1e-9
  /// Closed forms whose inputs are exact in Float32 (0, ½, 1) evaluated in Double.
  static let exactInputs = 1e-12
  /// A Float32 value against its exact decimal (1.5, 4.375, 0.125 from Float32 data such as
  /// 0.1): one Float32 rounding, relative 6e-8, with room.
  static let float32Value = 1e-6
  /// Numbers as docs/ALGORITHM.md prints them (3 decimals, or 4 for the error 0.0028).
  static let printedThreeDecimals: Float = 1e-3
  static let printedError = 2e-4
  /// A module's mean output after FLAP compensation: Float32 sums over 128 tokens of O(1)
  /// values move the mean by ~√128·ε₃₂ ≈ 1e-6.
  static let meanShift = 1e-5
  /// The smallest change counted as real (rounding is ≥ 100× smaller).
  static let visibleChange: Float = 1e-3
  /// Least squares with negligible damping recovering the weights that generated exact data:
  /// a Float32 Gram over a few hundred rows of a well-conditioned random design (error
  /// ~1e-5), or with heavy damping returning the prior (λ = 1e6 leaves ~1e-6 of the data).
  static let leastSquares: Float = 1e-3
  /// The pipeline refitting a tiny model's weights from its own activations (damp 1e-7
  /// toward zero): attention contexts and MLP activations are correlated, so the Float32
  /// Gram is worse conditioned than a random design.
  static let selfReconstruction: Float = 2e-3
}
