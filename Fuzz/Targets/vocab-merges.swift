// vocab.json + merges.txt loader (GPT-2 style folders). The input is the two files joined by
// one NUL byte: vocab.json bytes · 0x00 · merges.txt bytes.

import Foundation
@testable import Transformer

let sampleText = "Hello world! It's 2026 — naïve café <|endoftext|> 東京 123456 \n\n  spaces\tand\ttabs 🙂"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVocabMerges(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  fuzzInput(bytes, count) { data in
    let cut = data.firstIndex(of: 0) ?? data.endIndex
    let vocab = data[data.startIndex..<cut]
    let merges = cut < data.endIndex ? data[(cut + 1)...] : Data()
    let tokenizer = try Tokenizer(vocabJSON: Data(vocab), mergesText: Data(merges))
    let ids = tokenizer.encode(sampleText)
    _ = try? tokenizer.decode(ids)
  }
}

func setUp() {}
