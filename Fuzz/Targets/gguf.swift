// GGUF reader: header, metadata, tensor table, dequantisation of every tensor, the model
// config and tokenizer from metadata, and the weights built from a valid-looking file.

import Foundation
@testable import Transformer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  fuzzInput(bytes, count) { data in
    let file = try GGUFFile(data: data)
    var budget = floatBudget
    for t in file.tensors where t.type.isDequantisable && t.elementCount <= budget {
      budget -= t.elementCount
      let values = try file.floats(t)
      invariant(values.count == t.elementCount, "tensor \(t.name): \(values.count) floats for \(t.elementCount) elements")
    }
    _ = try? Tokenizer(ggufMetadata: file.metadata)
    guard file.tensors.reduce(0, { $0 + $1.elementCount }) <= 8 * floatBudget else { return }
    _ = try ModelLoader.model(fromGGUF: file, allowNonFinite: false)
  }
}

func setUp() {}
