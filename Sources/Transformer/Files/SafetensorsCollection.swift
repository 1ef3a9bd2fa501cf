// The safetensors of a Hugging Face folder: one `model.safetensors`, or shards listed by
// `model.safetensors.index.json` ({"metadata": {...}, "weight_map": {tensor: file}}).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// All safetensors files of a model folder, addressed by tensor name.
public struct SafetensorsCollection: Sendable {
  /// Name of the index of a sharded checkpoint.
  public static let indexFileName = "model.safetensors.index.json"
  /// Name of a single-file checkpoint.
  public static let singleFileName = "model.safetensors"
  /// Most shards accepted.
  public static let maxShardCount = 10_000

  /// Open files by file name.
  public let files: [String: SafetensorsFile]
  /// The file holding each tensor.
  public let location: [String: String]
  /// Tensor names in a stable order (file order within shards, shards by name).
  public let names: [String]

  /// Opens `model.safetensors.index.json` (and every shard it names) or `model.safetensors`.
  /// - Throws: `SafetensorsError` or `ModelFileError.notAModel` when neither exists.
  public init(folder: URL) throws {
    let fm = FileManager.default
    let indexURL = folder.appendingPathComponent(Self.indexFileName)
    var files: [String: SafetensorsFile] = [:]
    var location: [String: String] = [:]
    var names: [String] = []
    if fm.fileExists(atPath: indexURL.path) {
      let bytes = try Data(readingFile: indexURL)
      guard bytes.count <= SafetensorsFile.maxHeaderByteCount else { throw SafetensorsError.badIndex(detail: "file is too large") }
      let json: JSONValue
      do { json = try JSONValue.parse(bytes) } catch { throw SafetensorsError.badIndex(detail: error.description) }
      guard let map = json["weight_map"]?.objectValue else { throw SafetensorsError.badIndex(detail: "no 'weight_map' object") }
      for (tensor, fileValue) in map {
        guard let file = fileValue.stringValue, Self.isPlainFileName(file) else {
          throw SafetensorsError.badIndex(detail: "tensor '\(tensor)' maps to an invalid file name")
        }
        if files[file] == nil {
          guard files.count < Self.maxShardCount else { throw SafetensorsError.badIndex(detail: "too many shards") }
          files[file] = try SafetensorsFile(contentsOf: folder.appendingPathComponent(file))
        }
        guard files[file]?.tensor(named: tensor) != nil else {
          throw SafetensorsError.badIndex(detail: "tensor '\(tensor)' is not in \(file)")
        }
        location[tensor] = file
        names.append(tensor)
      }
    } else {
      let single = folder.appendingPathComponent(Self.singleFileName)
      guard fm.fileExists(atPath: single.path) else {
        throw ModelFileError.notAModel(path: folder.path, detail: "no model.safetensors or \(Self.indexFileName)")
      }
      let file = try SafetensorsFile(contentsOf: single)
      files[Self.singleFileName] = file
      for t in file.tensors {
        location[t.name] = Self.singleFileName
        names.append(t.name)
      }
    }
    self.files = files
    self.location = location
    self.names = names
  }

  static func isPlainFileName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\")
      && !name.contains("\0")
  }

  /// The header entry of `name`.
  public func tensor(named name: String) -> SafetensorsTensorInfo? {
    location[name].flatMap { files[$0]?.tensor(named: name) }
  }

  /// The elements of `name` as Float.
  public func floats(named name: String) throws(SafetensorsError) -> [Float] {
    guard let file = location[name].flatMap({ files[$0] }) else { throw .missingTensor(name) }
    return try file.floats(named: name)
  }

  /// Total bytes of all files.
  public var byteCount: Int { files.values.reduce(0) { $0 + $1.fileSize } }
}
