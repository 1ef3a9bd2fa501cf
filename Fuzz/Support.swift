// Shared by every fuzz target (compiled into each by scripts/fuzz, never by `swift build`).
//
// A target's body gets the input as `Data`; a thrown error is a clean rejection and counts as
// a pass. Crashes, sanitizer reports, leaks, timeouts and huge allocations are failures,
// and so is `invariant(false, …)`, which a target uses to check a property of valid inputs.

import Foundation
@testable import Transformer

/// The fixture folder (Tests/TransformerTests/Fixtures), from PARE_FUZZ_FIXTURES.
let fixtureRoot: String = ProcessInfo.processInfo.environment["PARE_FUZZ_FIXTURES"]
  ?? FileManager.default.currentDirectoryPath + "/Tests/TransformerTests/Fixtures"

/// The bytes of a fixture file; stops the fuzzer when it is missing (a setup error).
func fixture(_ relative: String) -> Data {
  guard let data = FileManager.default.contents(atPath: fixtureRoot + "/" + relative) else {
    fatalError("fuzz: missing fixture \(fixtureRoot)/\(relative) (set PARE_FUZZ_FIXTURES)")
  }
  return data
}

/// A private scratch folder for targets that must go through files, removed at exit.
let scratch: URL = {
  let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
  let url = URL(fileURLWithPath: base).appendingPathComponent("pare-fuzz-\(getpid())")
  try? FileManager.default.removeItem(at: url)
  try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  atexit { try? FileManager.default.removeItem(atPath: scratchPathForExit()) }
  return url
}()

private func scratchPathForExit() -> String {
  let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
  return base + "/pare-fuzz-\(getpid())"
}

/// Most Float elements a target dequantises per input: bounds the time of one execution.
let floatBudget = 1 << 20

/// Fails the run (libFuzzer records the input as a crash) when a property does not hold.
func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
  if !condition() {
    FileHandle.standardError.write(Data("fuzz invariant violated: \(message())\n".utf8))
    abort()
  }
}

/// Runs `body` on the input; thrown errors are clean rejections.
func fuzzInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int, _ body: (Data) throws -> Void) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  do { try body(data) } catch {}
  return 0
}

/// libFuzzer calls this once before the first input: each target's `setUp()` builds its
/// global state (fixture tensors, tokenizers, scratch folder) here, so that memory is not
/// counted as leaked by the first input. (Swift keeps spare-bit tags in some pointers, so
/// LeakSanitizer does not always see globals as reachable.)
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
  _ = scratch
  setUp()
  return 0
}
