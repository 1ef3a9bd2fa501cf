// Errors of model descriptions (configs), loading and writing, above the byte formats.

/// A model that cannot be loaded or written as asked.
public enum ModelFileError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The path is neither a GGUF file nor a folder with config.json + safetensors.
  case notAModel(path: String, detail: String)
  /// A config key the family needs is absent.
  case missingConfigKey(source: String, key: String)
  /// A config value is of the wrong type or out of range.
  case badConfigValue(source: String, key: String, detail: String)
  /// The model family is not gpt2 or llama.
  case unsupportedArchitecture(String)
  /// A feature Pare does not implement (e.g. a RoPE scaling scheme).
  case unsupportedFeature(String)
  /// A tensor the config requires is absent.
  case missingTensor(String)
  /// A tensor's shape differs from what the config implies.
  case shapeMismatch(tensor: String, expected: [Int], actual: [Int])
  /// The output folder exists and is not empty.
  case outputExists(path: String)
  /// The output would overwrite the model being read.
  case outputIsInput(path: String)
  /// A weight holds NaN or ±Inf (`index` is the flat element index, `value` its spelling).
  case nonFiniteWeight(tensor: String, index: Int, value: String)
  /// Writing failed (disk full, permissions, injected failure); nothing was left behind.
  case writeFailed(path: String, detail: String)

  public var description: String {
    switch self {
    case let .notAModel(path, detail): return "\(path) is not a model Pare can read: \(detail)"
    case let .missingConfigKey(source, key): return "\(source) has no '\(key)'"
    case let .badConfigValue(source, key, detail): return "\(source): '\(key)' \(detail)"
    case let .unsupportedArchitecture(a): return "model family '\(a)' is not supported (only gpt2 and llama)"
    case let .unsupportedFeature(f): return "unsupported model feature: \(f)"
    case let .missingTensor(name): return "the model has no tensor '\(name)', which its config requires"
    case let .shapeMismatch(tensor, expected, actual):
      return "tensor '\(tensor)' has shape \(actual), but the config implies \(expected)"
    case let .outputExists(path): return "output folder \(path) exists and is not empty (pass --overwrite to replace it)"
    case let .outputIsInput(path): return "refusing to write over the input model at \(path)"
    case let .writeFailed(path, detail): return "could not write \(path): \(detail)"
    case let .nonFiniteWeight(tensor, index, value):
      return "tensor '\(tensor)' holds a non-finite value (\(value)) at element \(index): the weights are corrupt "
        + "(pass --allow-non-finite to go on anyway)"
    }
  }
}
