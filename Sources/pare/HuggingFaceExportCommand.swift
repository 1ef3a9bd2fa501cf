// `pare export --format hf`: a folder stock transformers loads.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Transformer

enum HuggingFaceExportCommand {
  static func write(_ loaded: LoadedModel, modelPath: String, out: String, dtype: StorageDType,
                    overwrite: Bool, json: Bool) throws {
    var files: [String: Data] = [:]
    if let tokenizer = try? Tokenizer.load(modelPath: modelPath) {
      files["tokenizer.json"] = try tokenizer.tokenizerJSON()
      var config: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": false]
      if let b = tokenizer.beginOfSequenceID { config["bos_token"] = tokenizer.tokens[b] }
      if let e = tokenizer.endOfSequenceID { config["eos_token"] = tokenizer.tokens[e] }
      if let template = loaded.ggufMetadata["tokenizer.chat_template"]?.stringValue { config["chat_template"] = template }
      guard let configJSON = JSONValue(any: config) else { throw RuntimeError("the tokenizer configuration is not JSON") }
      files["tokenizer_config.json"] = Data(configJSON.compactText(escapingSlashes: true).utf8)
    } else {
      printError("note: \(modelPath) has no tokenizer Pare can read; the folder has none")
    }
    let changes = try HuggingFaceExporter.write(loaded.model, to: URL(fileURLWithPath: out), dtype: dtype,
                                                tokenizerFiles: files, overwrite: overwrite, inputPath: loaded.path)
    if json {
      print(jsonLine(["out": out, "format": "hf", "dtype": dtype.rawValue,
                      "padded_query_heads": changes.paddedQueryHeads, "added_kv_heads": changes.addedKeyValueHeads,
                      "padded_channels": changes.paddedChannels, "parameters_before": changes.parametersBefore,
                      "parameters_after": changes.parametersAfter]))
    } else {
      print("wrote \(out) (model.safetensors \(dtype.rawValue), config.json, tokenizer files): loads with transformers' AutoModelForCausalLM")
      for l in changes.lines { print("  " + l) }
    }
  }
}
