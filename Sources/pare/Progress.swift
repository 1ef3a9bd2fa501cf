// Progress lines on stderr: redrawn in place on a terminal, one line every few seconds
// otherwise (only with --progress), never on stdout.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import Transformer

struct ProgressReporter {
  let enabled: Bool
  let interactive = isatty(STDERR_FILENO) != 0
  private var lastLine = Date.distantPast
  private let start = Date()

  init(flag: Bool) { enabled = flag || isatty(STDERR_FILENO) != 0 }

  /// Shows `message`; `final` lines are always shown and end the in-place line.
  mutating func report(_ message: String, final: Bool = false) {
    guard enabled else { return }
    let now = Date()
    guard final || now.timeIntervalSince(lastLine) >= (interactive ? 0.2 : 5) else { return }
    lastLine = now
    let line = "[" + formatFixed(now.timeIntervalSince(start), 1, width: 6) + " s] " + message
    writeStandardError(interactive ? "\r\u{1B}[K" + line + (final ? "\n" : "") : line + "\n")
  }
}
