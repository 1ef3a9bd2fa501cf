// tokenizer.json loader; a loaded tokenizer encodes and decodes a fixed text, and the
// tokenizer.json Pare writes back loads and encodes the same.

import Foundation
@testable import Transformer

let sampleText = "Hello world! It's 2026 — naïve café <|endoftext|> 東京 123456 \n\n  spaces\tand\ttabs 🙂"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerJSON(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  fuzzInput(bytes, count) { data in
    let tokenizer = try Tokenizer(tokenizerJSON: data)
    let ids = tokenizer.encode(sampleText, allowSpecialTokens: true)
    _ = try? tokenizer.decode(ids)
    let again = try Tokenizer(tokenizerJSON: try tokenizer.tokenizerJSON())
    invariant(again.encode(sampleText, allowSpecialTokens: true) == ids, "written tokenizer.json encodes differently")
  }
}

func setUp() {}
