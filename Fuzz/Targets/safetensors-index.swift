// Sharded safetensors: the input is model.safetensors.index.json, beside the three valid
// shards of the tiny-llama-sharded fixture (hostile shard names, missing shards, tensors
// mapped to the wrong shard, duplicate names, paths that leave the folder).

import Foundation
@testable import Transformer

let shardFolder: URL = {
  let folder = scratch.appendingPathComponent("sharded")
  try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  for i in 1...3 {
    let name = "model-0000\(i)-of-00003.safetensors"
    try? fixture("files/tiny-llama-sharded/" + name).write(to: folder.appendingPathComponent(name))
  }
  return folder
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensorsIndex(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  fuzzInput(bytes, count) { data in
    try data.write(to: shardFolder.appendingPathComponent("model.safetensors.index.json"))
    let collection = try SafetensorsCollection(folder: shardFolder)
    for name in collection.names {
      invariant(collection.tensor(named: name) != nil, "listed tensor \(name) has no info")
      _ = try collection.floats(named: name)
    }
  }
}

func setUp() { _ = shardFolder }
