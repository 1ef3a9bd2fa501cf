// Reading a whole file into memory, the one way every reader does it.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension Data {
  /// The bytes of the file at `url`, as `Data(contentsOf:options:)` reads them, except that
  /// an empty regular file gives empty `Data` directly: the toolchain's Foundation (6.3)
  /// leaks a 4 KB buffer on every read of an empty file (found by fuzzing, issue 17).
  init(readingFile url: URL, options: Data.ReadingOptions = []) throws {
    let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
    if let attributes, attributes[.type] as? FileAttributeType == .typeRegular,
       (attributes[.size] as? Int) == 0 {
      self.init()
      return
    }
    try self.init(contentsOf: url, options: options)
  }
}
