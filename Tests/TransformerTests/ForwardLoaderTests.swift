// The goldens through `ModelLoader` (the production path): HF folders and the GGUF F32
// file written with llama.cpp's Q/K permutation.

import Foundation
import LinearAlgebra
import Testing
import Transformer

@Suite("Forward through ModelLoader")
struct ForwardLoaderTests {
  @Test("HF folders loaded by ModelLoader match Hugging Face's logits",
        arguments: ["gpt2-tiny", "llama-gqa", "llama-mha-tied"])
  func hfFolder(name: String) throws {
    let model = try ModelLoader.load(path: ForwardFixture.path(name)).model
    let golden = try ForwardFixture.golden(name)
    let logits = try model.logits(golden.inputIDs)
    #expect(relativeMaxError(logits.storage, golden.logits) <= ForwardTolerance.logits)
  }

  @Test("the GGUF F32 llama (llama.cpp Q/K permutation) matches the safetensors path and HF")
  func ggufMatchesSafetensors() throws {
    let gguf = try ModelLoader.load(path: ForwardFixture.path("llama-gqa.gguf")).model
    let hf = try ModelLoader.load(path: ForwardFixture.path("llama-gqa")).model
    let golden = try ForwardFixture.golden("llama-gqa")
    let a = try gguf.logits(golden.inputIDs), b = try hf.logits(golden.inputIDs)
    #expect(relativeMaxError(a.storage, b.storage) <= ForwardTolerance.sameFunction)
    #expect(relativeMaxError(a.storage, golden.logits) <= ForwardTolerance.logits)
  }
}
