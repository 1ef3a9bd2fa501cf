// Creating outputs so that no reader, crash or competing writer ever sees half of one.
//
// Content is staged under a hidden name in the destination's own folder (same file system,
// so the final rename is atomic):
//
//   .NAME.pare-tmp-PID-UUID      the file or folder being written by process PID
//
// and renamed onto NAME only when complete:
//   - new output: `renameat2(RENAME_NOREPLACE)`: if NAME appeared meanwhile (another process
//     wrote it), this write fails with `outputExists` and NAME is left as the other wrote it;
//   - replacing (`replace: true`): `renameat2(RENAME_EXCHANGE)` swaps the complete new output
//     with the old one in one step, then the old one (now under the staging name) is removed.
//     Two processes replacing the same NAME each swap atomically: the result is one of the
//     two complete outputs, never a mix.
// Where `renameat2` is missing (non-Linux, old kernels, some file systems) the fallbacks are:
// files `link` + `unlink` (also refuses an existing NAME), folders `rename` (refuses a
// non-empty NAME), and for replacing a move-aside then rename (a short moment without NAME).
//
// A process killed meanwhile (kill -9, power loss) leaves only a staging entry with its PID.
// Every later write into the same folder removes the staging entries of processes that no
// longer exist (`removeStaleStaging`), so nothing stray survives the next run.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic creation or replacement of an output file or folder.
public enum AtomicOutput {
  /// The marker between an output's name and the writer's PID in staging names.
  public static let stagingMarker = ".pare-tmp-"

  /// Writes the file `target` atomically: `body` writes the complete file at the URL it is
  /// given (which does not exist yet); on success it becomes `target`, on any error (or a
  /// crash) `target` is untouched and the staged file is removed.
  /// - Throws: `ModelFileError.outputExists` when `target` exists (or appears meanwhile)
  ///   and `replace` is false; `ModelFileError.writeFailed`; whatever `body` throws.
  public static func writeFile(at target: URL, replace: Bool = false, _ body: (URL) throws -> Void) throws {
    try write(at: target, folder: false, replace: replace, body)
  }

  /// Writes the folder `target` atomically: `body` fills the (existing, empty) folder it is
  /// given; on success it becomes `target` in one rename. An existing empty folder counts as
  /// absent. Errors as `writeFile`.
  public static func writeFolder(at target: URL, replace: Bool = false, _ body: (URL) throws -> Void) throws {
    try write(at: target, folder: true, replace: replace, body)
  }

  /// Removes, in `folder`, the staging entries of processes that no longer run.
  public static func removeStaleStaging(in folder: URL) {
    let fm = FileManager.default
    guard let names = try? fm.contentsOfDirectory(atPath: folder.path) else { return }
    for name in names {
      guard name.hasPrefix("."), let marker = name.lastRange(of: stagingMarker) else { continue }
      let rest = name[marker.upperBound...]
      guard let pid = Int32(rest.prefix { $0.isNumber }), pid > 0, !isRunning(pid) else { continue }
      try? fm.removeItem(at: folder.appendingPathComponent(name))
    }
  }

  /// Test hook: `PARE_TEST_STALL_BEFORE_COMMIT_MS` milliseconds of sleep between staging and
  /// the final rename, so end-to-end tests can kill a writer or race two at that moment.
  static let stallBeforeCommit: UInt32 = {
    UInt32(ProcessInfo.processInfo.environment["PARE_TEST_STALL_BEFORE_COMMIT_MS"] ?? "") ?? 0
  }()

  // MARK: - Implementation

  static func isRunning(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno != ESRCH
  }

  static func stagingURL(for target: URL) -> URL {
    target.deletingLastPathComponent().appendingPathComponent(
      ".\(target.lastPathComponent)\(stagingMarker)\(getpid())-\(UUID().uuidString.prefix(8))")
  }

  private static func write(at target: URL, folder: Bool, replace: Bool, _ body: (URL) throws -> Void) throws {
    let fm = FileManager.default
    let parent = target.deletingLastPathComponent()
    if !fm.fileExists(atPath: parent.path) {
      do { try fm.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
        throw ModelFileError.writeFailed(path: target.path, detail: "cannot create the folder \(parent.path)")
      }
    }
    removeStaleStaging(in: parent)
    var isDirectory = false
    if fm.fileExists(atPath: target.path, isDirectory: &isDirectory) {
      let emptyFolder = folder && isDirectory && ((try? fm.contentsOfDirectory(atPath: target.path))?.isEmpty ?? false)
      if !replace && !emptyFolder { throw ModelFileError.outputExists(path: target.path) }
      if isDirectory != folder {
        throw ModelFileError.writeFailed(path: target.path, detail: "it exists and is not a \(folder ? "folder" : "file")")
      }
    }
    let staging = stagingURL(for: target)
    if folder {
      do { try fm.createDirectory(at: staging, withIntermediateDirectories: false) } catch {
        throw ModelFileError.writeFailed(path: target.path, detail: "cannot create a folder in \(parent.path)")
      }
    }
    do {
      try body(staging)
      if stallBeforeCommit > 0 { usleep(stallBeforeCommit * 1000) }
      if folder && !replace, fm.fileExists(atPath: target.path) {
        // An empty folder (made by the user, or left by nobody) is replaced.
        _ = rmdir(target.path)
      }
      try commit(staging, to: target, folder: folder, replace: replace)
    } catch {
      try? fm.removeItem(at: staging)
      // Name the output the user asked for, not the staging path.
      if case let .writeFailed(path, detail)? = error as? ModelFileError, path.hasPrefix(staging.path) {
        let inside = path.dropFirst(staging.path.count).drop { $0 == "/" }
        throw ModelFileError.writeFailed(path: target.path, detail: inside.isEmpty ? detail : "\(inside): \(detail)")
      }
      if let e = error as? ModelFileError { throw e }
      throw ModelFileError.writeFailed(path: target.path, detail: describeFileError(error))
    }
  }

  /// Moves the complete staged output onto `target` (see the file comment).
  private static func commit(_ staging: URL, to target: URL, folder: Bool, replace: Bool) throws {
    let from = staging.path, to = target.path
    if replace {
      if renameat2Call(from, to, exchange) == 0 {
        try? FileManager.default.removeItem(at: staging)  // the old output, swapped out
        return
      }
      if errno == ENOENT {  // nothing to replace (any more)
        if renameat2Call(from, to, noReplace) == 0 { return }
      }
      // No RENAME_EXCHANGE here: move the old output aside, then rename.
      let aside = stagingURL(for: target)
      let hadOld = rename(to, aside.path) == 0
      guard rename(from, to) == 0 else {
        let code = errno
        if hadOld { _ = rename(aside.path, to) }
        throw ModelFileError.writeFailed(path: to, detail: String(cString: strerror(code)))
      }
      if hadOld { try? FileManager.default.removeItem(at: aside) }
      return
    }
    if renameat2Call(from, to, noReplace) == 0 { return }
    var code = errno
    if code == EINVAL || code == ENOSYS || code == ENOTSUP {  // no renameat2 for this file system
      if folder {
        if rename(from, to) == 0 { return }
      } else if link(from, to) == 0 {
        unlink(from)
        return
      }
      code = errno
    }
    if code == EEXIST || code == ENOTEMPTY {
      throw ModelFileError.outputExists(path: to)
    }
    throw ModelFileError.writeFailed(path: to, detail: String(cString: strerror(code)))
  }

  private static let noReplace: UInt32 = 1  // RENAME_NOREPLACE
  private static let exchange: UInt32 = 2  // RENAME_EXCHANGE

  private typealias Renameat2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32

  /// glibc's `renameat2`, looked up at run time (Swift's Glibc module does not declare it).
  private static let renameat2Function: Renameat2? = {
    #if os(Linux)
    guard let symbol = dlsym(nil, "renameat2") else { return nil }
    return unsafeBitCast(symbol, to: Renameat2.self)
    #else
    return nil
    #endif
  }()

  /// `renameat2(from, to, flags)`, or -1 with errno ENOSYS when unavailable.
  private static func renameat2Call(_ from: String, _ to: String, _ flags: UInt32) -> Int32 {
    guard let f = renameat2Function else {
      errno = ENOSYS
      return -1
    }
    return f(AT_FDCWD, from, AT_FDCWD, to, flags)
  }
}
