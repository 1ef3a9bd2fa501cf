import Foundation
import LinearAlgebra
import Transformer

/// A fresh temporary folder, removed by the caller.
func makeTemporaryFolder() throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("pare-files-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

extension GGUFEncoder {
  /// An encoder that reproduces `file` (same metadata order, tensors, raw bytes).
  init(copying file: GGUFFile) {
    self.init()
    version = file.version
    alignment = file.alignment
    metadata = file.metadataKeys.map { ($0, file.metadata[$0]!) }
    tensors = file.tensors.map { t in
      Tensor(name: t.name, dimensions: t.dimensions, type: t.type, bytes: file.withTensorBytes(t) { Array($0) })
    }
  }
}
