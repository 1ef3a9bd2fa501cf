import Foundation
import Testing
import TestSupport

@Suite("pare links FoundationEssentials, not Foundation")
struct LinkageTests {
  /// Full Foundation brings ICU (most of a static binary's size, docs/RUNTIME.md "Static
  /// binary"). In the dynamic builds the tests run on, any `import Foundation` in Pare's
  /// libraries or `pare` shows up as libFoundation.so among the binary's libraries.
  @Test("the pare binary's libraries include no libFoundation, FoundationInternationalization or ICU")
  func noFullFoundation() throws {
    let ldd = URL(fileURLWithPath: "/usr/bin/ldd")
    guard FileManager.default.isExecutableFile(atPath: ldd.path) else {
      print("SKIPPED pare linkage check: /usr/bin/ldd is missing (Debian package libc-bin provides it)")
      return
    }
    let r = try ChildProcess.run(ldd, [CLI.binary.path])
    let libraries = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    guard libraries.contains(where: { $0.hasPrefix("libswiftCore.so") }) else {
      print("SKIPPED pare linkage check: \(CLI.binary.path) links the Swift libraries statically, so ldd cannot show them")
      return
    }
    #expect(libraries.contains { $0.hasPrefix("libFoundationEssentials.so") })
    for banned in ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so", "libFoundationNetworking.so"] {
      #expect(!libraries.contains { $0.hasPrefix(banned) }, "pare links \(banned): a Sources file imports Foundation")
    }
  }
}
