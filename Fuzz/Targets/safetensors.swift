// safetensors reader (one file): header validation and reading every tensor as Float.

import Foundation
@testable import Transformer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  fuzzInput(bytes, count) { data in
    let file = try SafetensorsFile(data: data)
    for t in file.tensors {
      invariant(t.begin >= 0 && t.begin <= t.end && file.dataOffset + t.end <= data.count,
                "tensor \(t.name) range \(t.begin)..<\(t.end) outside \(data.count) bytes")
      if t.dtype.isFloatReadable {
        let values = try file.floats(named: t.name)
        invariant(values.count == t.elementCount, "tensor \(t.name): \(values.count) floats for \(t.elementCount) elements")
      } else {
        _ = try file.bytes(named: t.name)
      }
    }
  }
}

func setUp() {}
