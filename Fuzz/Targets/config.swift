// config.json (HF keys and Pare's "pare" block): parsing, then building weights from the
// tiny fixtures' tensors, so shapes or "pare" indices that disagree with the tensors are
// exercised (they must throw, never trap).

import Foundation
@testable import Transformer

let llamaTensors = try! SafetensorsFile(data: fixture("files/tiny-llama/model.safetensors"))
let gpt2Tensors = try! SafetensorsFile(data: fixture("files/tiny-gpt2/model.safetensors"))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  fuzzInput(bytes, count) { data in
    let json = try JSONValue.parse(data)
    let config = try ModelConfig(huggingFaceJSON: json)
    let file = config.architecture == .llama ? llamaTensors : gpt2Tensors
    let source = ModelLoader.TensorSource(shape: { file.tensor(named: $0)?.shape },
                                          floats: { try file.floats(named: $0) })
    let weights = try ModelLoader.huggingFaceWeights(config, source)
    invariant(weights.layers.count == config.layerCount, "\(weights.layers.count) layers for \(config.layerCount)")
    // What the writer would store must parse back to the same config.
    let again = try ModelConfig(huggingFaceJSON: try JSONValue.parse(Array(config.huggingFaceJSON().serialized().utf8)))
    invariant(again == config, "config.json written by Pare does not read back the same")
  }
}

func setUp() { _ = (llamaTensors, gpt2Tensors) }
