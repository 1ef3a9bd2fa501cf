// `pare tokenize MODEL (--text S | --file PATH) [--special] [--json]`: token ids, no BOS.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Transformer

enum TokenizeCommand {
  static let help = """
    usage: pare tokenize MODEL (--text S | --file PATH) [--special] [--json]

    Prints the token ids of the text (no BOS), separated by spaces.
      MODEL         a GGUF file, or a folder with tokenizer.json or vocab.json + merges.txt
      --text S      the text to encode
      --file PATH   encode this file's contents as they are (UTF-8)
      --special     let special tokens written in the text (e.g. <|endoftext|>) become their ids
      --json        print one JSON object: {"count": n, "ids": [...]}
    """

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    let json = args.flag("--json")
    let special = args.flag("--special")
    let text = try args.option("--text")
    let file = try args.option("--file")
    let model = try args.positional("MODEL")
    try args.finish()
    let input: String
    switch (text, file) {
    case let (t?, nil): input = t
    case let (nil, f?): input = try EvaluationText.load(path: f, format: .text)
    case (nil, nil): throw UsageError("give the text with --text S or --file PATH")
    case (.some, .some): throw UsageError("give either --text or --file, not both")
    }
    let tokenizer = try Tokenizer.load(modelPath: model)
    let ids = tokenizer.encode(input, allowSpecialTokens: special)
    if json {
      print(jsonLine(["ids": ids, "count": ids.count]))
    } else {
      print(ids.map(String.init).joined(separator: " "))
    }
  }
}
