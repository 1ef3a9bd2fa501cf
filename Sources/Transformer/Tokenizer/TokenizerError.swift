/// What can go wrong while loading or using a tokenizer. Each case reads as one sentence.
public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
  /// A required file or metadata key is missing.
  case missing(String)
  /// A file or metadata value has the wrong shape or an impossible value.
  case invalid(String)
  /// The file asks for a tokenizer feature Pare does not implement.
  case unsupported(String)
  /// A vocabulary or merge list larger than `Tokenizer.maxVocabularySize` / `maxMergeCount`.
  case tooLarge(String)
  /// `decode` got an id outside the vocabulary.
  case unknownTokenID(Int, vocabularySize: Int)

  public var description: String {
    switch self {
    case let .missing(what): return "tokenizer: \(what) is missing"
    case let .invalid(what): return "tokenizer: \(what)"
    case let .unsupported(what): return "tokenizer: unsupported \(what)"
    case let .tooLarge(what): return "tokenizer: \(what) is too large"
    case let .unknownTokenID(id, size): return "tokenizer: token id \(id) is outside the vocabulary (0..<\(size))"
    }
  }
}
