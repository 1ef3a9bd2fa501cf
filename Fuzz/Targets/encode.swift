// Encoding arbitrary bytes with real tokenizers (GPT-2: no normalizer, so byte-level BPE
// must give back exactly the UTF-8 bytes; SmolLM2's tokenizer with its special tokens).
// Invariants: decode(encode(s)) == s (GPT-2), and encoding in small segments equals one
// segment.

import Foundation
@testable import Transformer

func goldenTokenizer(_ file: String) -> Tokenizer {
  let golden = try! JSONValue.parse(fixture("tokenizer/" + file))
  return try! Tokenizer(tokenizerJSON: Data(golden["tokenizer_json"]!.stringValue!.utf8))
}
let gpt2 = goldenTokenizer("hf-small-gpt2.json")
let smol = goldenTokenizer("hf-small-smollm.json")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEncode(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  fuzzInput(bytes, count) { data in
    let text = String(decoding: data, as: UTF8.self)
    let ids = gpt2.encode(text)
    let back = try gpt2.decodeBytes(ids)
    invariant(back == Array(text.utf8), "GPT-2 decode(encode(s)) != s")
    let segmented = gpt2.encodeIDs(text, segmentBytes: 16).map(Int.init)
    invariant(segmented == ids, "encoding in 16-byte segments differs")
    let special = smol.encode(text, allowSpecialTokens: true)
    _ = try smol.decodeBytes(special)
    _ = smol.encode(text, allowSpecialTokens: false)
  }
}

func setUp() { _ = (gpt2, smol) }
