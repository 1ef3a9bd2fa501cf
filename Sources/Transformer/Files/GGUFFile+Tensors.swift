// Reading GGUF tensors as Float.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinearAlgebra

extension GGUFFile {
  /// The tensor's elements as Float, in ggml order (innermost dimension fastest, i.e. the
  /// row-major order of `tensor.shape`).
  ///
  /// - Throws: `GGUFError.unsupportedTensorType` for types Pare does not dequantise.
  public func floats(_ tensor: GGUFTensorInfo) throws -> [Float] {
    guard tensor.type.isDequantisable else {
      throw GGUFError(.unsupportedTensorType(tensor: tensor.name, type: tensor.type.name),
                      at: dataOffset + tensor.offset)
    }
    return withTensorBytes(tensor) { dequantize(tensor.type, bytes: $0, elementCount: tensor.elementCount) }
  }

  /// The tensor's elements as `floats(_:)` gives them, and the index of the first NaN or ±Inf
  /// among them (nil when all are finite), found during dequantisation.
  public func floatsFindingNonFinite(_ tensor: GGUFTensorInfo) throws -> (values: [Float], firstNonFinite: Int?) {
    guard tensor.type.isDequantisable else {
      throw GGUFError(.unsupportedTensorType(tensor: tensor.name, type: tensor.type.name),
                      at: dataOffset + tensor.offset)
    }
    return withTensorBytes(tensor) {
      dequantize(tensor.type, bytes: $0, elementCount: tensor.elementCount, findNonFinite: true)
    }
  }

  /// The elements of the tensor called `name`.
  /// - Throws: `GGUFError.missingTensor` when absent, or as `floats(_:)`.
  public func floats(named name: String) throws -> [Float] {
    guard let t = tensor(named: name) else { throw GGUFError(.missingTensor(name), at: 0) }
    return try floats(t)
  }

  /// The tensor as a matrix: rows = product of the outer dimensions, columns = the innermost
  /// dimension. A (out × in) weight comes back (out × in), as PyTorch holds it.
  public func matrix(named name: String) throws -> Matrix {
    guard let t = tensor(named: name) else { throw GGUFError(.missingTensor(name), at: 0) }
    let columns = t.dimensions[0]
    return Matrix(rows: t.elementCount / columns, columns: columns, storage: try floats(t))
  }
}
