// `pare export --format hf`: a folder stock transformers loads.

import Foundation
import Transformer

enum HuggingFaceExportCommand {
  static func write(_ loaded: LoadedModel, modelPath: String, out: String, dtype: StorageDType,
                    overwrite: Bool, json: Bool) throws {
    throw RuntimeError("--format hf is not implemented yet")
  }
}
