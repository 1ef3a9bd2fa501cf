// Hand-written argument parsing in the manner of swift-argument-parser: long kebab-case
// options, `--help`, usage errors (exit 2) kept apart from runtime errors (exit 1).

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

/// A usage error: bad flags, missing values. Exit code 2.
struct UsageError: Error, CustomStringConvertible {
  var description: String
  init(_ message: String) { description = message }
}

/// A runtime error the user can act on (bad file, bad data). Exit code 1.
struct RuntimeError: Error, CustomStringConvertible {
  var description: String
  init(_ message: String) { description = message }
}

/// The arguments of one subcommand, consumed option by option. Anything left at the end
/// is an error, so a misspelt flag is never silently ignored.
struct Arguments {
  private var items: [String]
  private var positionals: [String] = []
  /// `--allow-non-finite` (taken by main.swift for the commands that load a model): load
  /// weights that hold NaN or Inf instead of refusing them.
  var allowNonFinite = false

  init(_ items: [String]) { self.items = items }

  /// True when `--help`/`-h` is present.
  var wantsHelp: Bool { items.contains("--help") || items.contains("-h") }

  /// Removes and returns whether `--name` was given.
  mutating func flag(_ name: String) -> Bool {
    guard let i = items.firstIndex(of: name) else { return false }
    items.remove(at: i)
    return true
  }

  /// Removes and returns the value of `--name VALUE` (or `--name=VALUE`).
  mutating func option(_ name: String) throws -> String? {
    if let i = items.firstIndex(where: { $0.hasPrefix(name + "=") }) {
      let v = String(items[i].dropFirst(name.count + 1))
      items.remove(at: i)
      return v
    }
    guard let i = items.firstIndex(of: name) else { return nil }
    guard i + 1 < items.count, !(items[i + 1].hasPrefix("--") && items[i + 1].count > 2) else {
      throw UsageError("\(name) needs a value")
    }
    let v = items[i + 1]
    items.removeSubrange(i...(i + 1))
    return v
  }

  /// Parses `--name N` as an integer within `range`.
  mutating func int(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int? {
    guard let s = try option(name) else { return nil }
    guard let v = Int(s), range.contains(v) else {
      throw UsageError("\(name) takes a whole number in \(range.lowerBound)...\(range.upperBound), got '\(s)'")
    }
    return v
  }

  /// Parses `--name X` as a finite number within `range`.
  mutating func double(_ name: String, in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude) throws -> Double? {
    guard let s = try option(name) else { return nil }
    guard let v = Double(s), v.isFinite, range.contains(v) else {
      throw UsageError("\(name) takes a number in \(range.lowerBound)...\(range.upperBound), got '\(s)'")
    }
    return v
  }

  /// Parses `--name VALUE` as one of the cases of a string enum.
  mutating func choice<T: RawRepresentable & CaseIterable>(_ name: String, as: T.Type) throws -> T? where T.RawValue == String {
    guard let s = try option(name) else { return nil }
    guard let v = T(rawValue: s) else {
      throw UsageError("\(name) takes one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got '\(s)'")
    }
    return v
  }

  /// Removes and returns the next positional argument, or throws naming what was expected.
  mutating func positional(_ what: String) throws -> String {
    guard let i = items.firstIndex(where: { !$0.hasPrefix("--") || $0 == "-" }) else {
      throw UsageError("missing \(what)")
    }
    return items.remove(at: i)
  }

  /// Throws if anything was not consumed.
  func finish() throws {
    if let extra = items.first {
      throw UsageError(extra.hasPrefix("-") ? "unknown option '\(extra)'" : "unexpected argument '\(extra)'")
    }
  }
}

/// Writes one line to standard error.
func printError(_ line: String) {
  writeStandardError(line + "\n")
}

/// Serialises a JSON object with sorted keys, one line, for `--json` outputs. A result that
/// cannot be written as JSON (a NaN or Inf number) is an error, never an empty or partial line.
func jsonLine(_ object: [String: Any]) -> String {
  guard let value = JSONValue(any: object) else {
    printError("error: the result holds a non-finite number (NaN or Inf) and cannot be printed as JSON")
    exit(1)
  }
  return value.compactText()
}
