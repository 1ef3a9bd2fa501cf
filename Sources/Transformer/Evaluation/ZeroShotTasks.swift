// Zero-shot multiple-choice tasks as lm-evaluation-harness 0.4 poses them: each item becomes
// one (context, continuation) pair per choice, and the model picks the choice whose
// continuation it finds most likely. This file reads the task files (original release formats,
// ../shared/data/README.md) and builds the harness's prompts; scoring is in
// ZeroShotEvaluation.swift.
//
// The templates (harness task YAMLs, target delimiter " " before every continuation):
//   boolq       context "{passage}\nQuestion: {question}?\nAnswer:"   choices "no", "yes"
//   piqa        context "Question: {goal}\nAnswer:"                   choices sol1, sol2
//   arc_*       context "Question: {stem}\nAnswer:"                   choices the choice texts
//   openbookqa  context "{question_stem}"                             choices the choice texts
//   hellaswag   context preprocess("{activity_label}: {ctx_a} {ctx_b.capitalize()}")
//               choices preprocess(ending)
//   winogrande  partial scoring: one context per option, sentence[..<"_"] + option, and the
//               shared continuation sentence[after "_"] stripped.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One of the paper's seven zero-shot tasks.
public enum ZeroShotTask: String, CaseIterable, Sendable {
  case boolq, piqa, hellaswag, winogrande
  case arcEasy = "arc_easy"
  case arcChallenge = "arc_challenge"
  case openbookqa

  /// The metric the paper's Table 1 reports for this task (lm-evaluation-harness names).
  public var paperMetric: ZeroShotMetric {
    switch self {
    case .boolq, .piqa, .winogrande, .arcEasy: return .acc
    case .hellaswag, .arcChallenge, .openbookqa: return .accNorm
    }
  }

  /// Whether the harness's task config defines `acc_norm` (BoolQ and WinoGrande list `acc` only).
  public var definesAccNorm: Bool { self != .boolq && self != .winogrande }

  /// Files of the task, relative to the data directory: the items, then (PIQA, WinoGrande) labels.
  public var files: [String] {
    switch self {
    case .boolq: return ["boolq/dev.jsonl"]
    case .piqa: return ["piqa/valid.jsonl", "piqa/valid-labels.lst"]
    case .hellaswag: return ["hellaswag/hellaswag_val_full.txt"]
    case .winogrande: return ["winogrande/dev.jsonl", "winogrande/dev-labels.lst"]
    case .arcEasy: return ["arc_easy/ARC-Easy-Test.jsonl"]
    case .arcChallenge: return ["arc_challenge/ARC-Challenge-Test.jsonl"]
    case .openbookqa: return ["openbookqa/test.jsonl"]
    }
  }

  /// Parses a comma-separated task list ("boolq,piqa"), keeping order, refusing unknown
  /// names and duplicates.
  public static func parseList(_ text: String) throws(ZeroShotError) -> [ZeroShotTask] {
    var tasks: [ZeroShotTask] = []
    for name in text.split(separator: ",", omittingEmptySubsequences: false) {
      let trimmed = name.trimmingSpaces()
      guard let task = ZeroShotTask(rawValue: trimmed) else {
        throw .unknownTask(String(trimmed), known: allCases.map(\.rawValue))
      }
      guard !tasks.contains(task) else { throw .duplicateTask(task.rawValue) }
      tasks.append(task)
    }
    return tasks
  }
}

/// lm-evaluation-harness's two multiple-choice accuracies.
public enum ZeroShotMetric: String, Sendable {
  /// argmax of the summed continuation log-likelihood.
  case acc
  /// argmax of that sum divided by the choice's length in characters.
  case accNorm = "acc_norm"
}

/// One multiple-choice item, as (context, continuation) requests.
public struct ZeroShotItem: Sendable, Equatable {
  /// One request per choice: the context and the continuation (target delimiter included).
  public var requests: [(context: String, continuation: String)]
  /// The choice strings as the harness's `doc_to_choice` gives them; their lengths in
  /// Unicode scalars (Python's `len`) normalise `acc_norm`.
  public var choices: [String]
  /// Index of the correct choice.
  public var gold: Int

  public init(requests: [(context: String, continuation: String)], choices: [String], gold: Int) {
    self.requests = requests
    self.choices = choices
    self.gold = gold
  }

  /// A multiple-choice item with one shared context: continuation i is `" " + choices[i]`.
  public init(context: String, choices: [String], gold: Int) {
    self.init(requests: choices.map { (context, ZeroShotPrompt.targetDelimiter + $0) }, choices: choices, gold: gold)
  }

  public static func == (a: ZeroShotItem, b: ZeroShotItem) -> Bool {
    a.gold == b.gold && a.choices == b.choices && a.requests.count == b.requests.count
      && zip(a.requests, b.requests).allSatisfy { $0.context == $1.context && $0.continuation == $1.continuation }
  }
}

/// Bad task names or task data.
public enum ZeroShotError: Error, Equatable, Sendable, CustomStringConvertible {
  case unknownTask(String, known: [String])
  case duplicateTask(String)
  case unreadable(path: String, reason: String)
  case badItem(path: String, line: Int, reason: String)
  case labelCountMismatch(path: String, items: Int, labels: Int)
  case noItems(path: String)
  case contextTooLong(task: String, item: Int, tokens: Int, limit: Int)

  public var description: String {
    switch self {
    case let .unknownTask(name, known):
      return "unknown task '\(name)' (known: \(known.joined(separator: ", ")))"
    case let .duplicateTask(name): return "task '\(name)' is listed twice"
    case let .unreadable(path, reason): return "cannot read \(path): \(reason)"
    case let .badItem(path, line, reason): return "\(path):\(line): \(reason)"
    case let .labelCountMismatch(path, items, labels):
      return "\(path): \(labels) labels for \(items) items"
    case let .noItems(path): return "\(path) holds no items"
    case let .contextTooLong(task, item, tokens, limit):
      return "\(task) item \(item): the continuation alone has \(tokens) tokens, more than the model's \(limit) positions"
    }
  }
}

// MARK: - Prompts

/// The harness's prompt pieces, written as plain functions so tests can check them.
public enum ZeroShotPrompt {
  /// `target_delimiter`: put before every continuation.
  public static let targetDelimiter = " "

  public static func boolq(passage: String, question: String, answer: Bool) -> ZeroShotItem {
    ZeroShotItem(context: "\(passage)\nQuestion: \(question)?\nAnswer:", choices: ["no", "yes"], gold: answer ? 1 : 0)
  }

  public static func piqa(goal: String, solutions: [String], label: Int) -> ZeroShotItem {
    ZeroShotItem(context: "Question: \(goal)\nAnswer:", choices: solutions, gold: label)
  }

  public static func arc(question: String, choices: [String], gold: Int) -> ZeroShotItem {
    ZeroShotItem(context: "Question: \(question)\nAnswer:", choices: choices, gold: gold)
  }

  public static func openbookqa(questionStem: String, choices: [String], gold: Int) -> ZeroShotItem {
    ZeroShotItem(context: questionStem, choices: choices, gold: gold)
  }

  /// WinoGrande's partial scoring: the contexts are the sentence up to `_` with each option in
  /// its place; the continuation is the text after `_`, stripped, behind the delimiter.
  /// Returns nil when the sentence has no `_`.
  public static func winogrande(sentence: String, options: [String], answer: Int) -> ZeroShotItem? {
    guard let blank = sentence.firstIndex(of: "_") else { return nil }
    let before = String(sentence[..<blank])
    let after = PythonString.strip(String(sentence[sentence.index(after: blank)...]))
    let contexts = options.map { before + $0 }
    return ZeroShotItem(requests: contexts.map { ($0, targetDelimiter + after) }, choices: contexts, gold: answer)
  }

  /// HellaSwag from the harness's document fields.
  public static func hellaswag(activityLabel: String, contextA: String, contextB: String,
                               endings: [String], label: Int) -> ZeroShotItem {
    let ctx = contextA + " " + PythonString.capitalize(contextB)
    return ZeroShotItem(context: hellaswagPreprocess(activityLabel + ": " + ctx),
                        choices: endings.map(hellaswagPreprocess), gold: label)
  }

  /// The harness's HellaSwag `preprocess`: strip; " [title]" → ". "; every `[…]` (shortest,
  /// within a line) removed; each double space replaced by one space (one pass, as Python's
  /// `str.replace`).
  public static func hellaswagPreprocess(_ text: String) -> String {
    var s = PythonString.strip(text)
    s = s.replacing(" [title]", with: ". ")
    s = removeBracketedTags(s)
    s = s.replacing("  ", with: " ")
    return s
  }

  /// Removes every shortest `[…]` span that does not cross a line break (the regex `\[.*?\]`).
  static func removeBracketedTags(_ text: String) -> String {
    let scalars = Array(text.unicodeScalars)
    var out = String.UnicodeScalarView()
    var i = 0
    while i < scalars.count {
      if scalars[i] == "[" {
        var j = i + 1
        while j < scalars.count, scalars[j] != "]", scalars[j] != "\n" { j += 1 }
        if j < scalars.count, scalars[j] == "]" { i = j + 1; continue }
      }
      out.append(scalars[i])
      i += 1
    }
    return String(out)
  }

  /// Splits llama.cpp's HellaSwag context line (`activity_label: ctx`, ctx = ctx_a + " " +
  /// ctx_b with tags already removed) back into the harness's fields, as far as it can be
  /// recovered: ctx_b is the unfinished sentence at the end of ctx — the text after the last
  /// ". ", "! " or "? " — and is empty when ctx ends with `.`, `!` or `?` (WikiHow items, whose
  /// ctx_b is empty). Returns (prefix up to ctx_b, ctx_b); the harness's context is then
  /// `preprocess(prefix + capitalize(ctx_b))`.
  public static func splitHellaswagContext(_ line: String) -> (head: String, contextB: String) {
    let trimmed = PythonString.rstrip(line)
    guard let last = trimmed.unicodeScalars.last, !".!?".unicodeScalars.contains(last) else { return (line, "") }
    // The part after "label: " is ctx; look for the last sentence end inside it.
    let labelEnd = trimmed.firstRange(of: ": ")?.upperBound ?? trimmed.startIndex
    let ctx = trimmed[labelEnd...]
    var cut = ctx.startIndex
    for end in [". ", "! ", "? "] {
      if let r = ctx.lastRange(of: end), r.upperBound > cut { cut = r.upperBound }
    }
    return (String(trimmed[..<cut]), String(trimmed[cut...]))
  }

  /// A HellaSwag item from llama.cpp's 6-line block (context line, endings, label).
  public static func hellaswag(line: String, endings: [String], label: Int) -> ZeroShotItem {
    let (head, contextB) = splitHellaswagContext(line)
    return ZeroShotItem(context: hellaswagPreprocess(head + PythonString.capitalize(contextB)),
                        choices: endings.map(hellaswagPreprocess), gold: label)
  }
}

/// Python `str` methods the harness relies on, over Unicode scalars.
public enum PythonString {
  /// Python's `str.isspace` characters for one scalar.
  public static func isSpace(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
      return true
    default: return false
    }
  }

  public static func rstrip(_ text: String) -> String {
    var v = text.unicodeScalars
    while let last = v.last, isSpace(last) { v.removeLast() }
    return String(v)
  }

  public static func strip(_ text: String) -> String {
    var v = Substring(rstrip(text)).unicodeScalars
    while let first = v.first, isSpace(first) { v.removeFirst() }
    return String(v)
  }

  /// `str.capitalize()`: the first character upper-cased, the rest lower-cased.
  public static func capitalize(_ text: String) -> String {
    guard let first = text.unicodeScalars.first else { return text }
    var rest = text.unicodeScalars
    rest.removeFirst()
    return String(first).uppercased() + String(rest).lowercased()
  }

  /// `len(s)`: the number of code points.
  public static func length(_ text: String) -> Int { text.unicodeScalars.count }
}

// MARK: - Files

/// Reads the task files under a data directory (../shared/data/README.md formats).
public enum ZeroShotData {
  /// The largest task file read (the biggest real one is 7.8 MB).
  public static let maxFileBytes = 256 << 20

  /// The first `limit` items (file order) of `task` under `directory`.
  /// - Throws: `ZeroShotError` for a missing or malformed file.
  public static func load(_ task: ZeroShotTask, directory: String, limit: Int? = nil) throws(ZeroShotError) -> [ZeroShotItem] {
    let paths = task.files.map { joinPath(directory, $0) }
    let main = paths[0]
    let lines = try readLines(main, keepEmpty: task == .hellaswag)
    let cap = limit ?? Int.max
    var items: [ZeroShotItem] = []
    switch task {
    case .hellaswag:
      var i = 0
      while i < lines.count, items.count < cap {
        guard i + 6 <= lines.count else {
          throw .badItem(path: main, line: i + 1, reason: "a HellaSwag task needs 6 lines (context, label, 4 endings), \(lines.count - i) left")
        }
        guard let label = Int(lines[i + 1].trimmingSpaces()), (0..<4).contains(label) else {
          throw .badItem(path: main, line: i + 2, reason: "the gold label must be 0-3, got '\(lines[i + 1].prefix(40))'")
        }
        items.append(ZeroShotPrompt.hellaswag(line: lines[i], endings: Array(lines[(i + 2)..<(i + 6)]), label: label))
        i += 6
      }
    default:
      var labels: [Int] = []
      if paths.count > 1 {
        labels = try readLines(paths[1], keepEmpty: false).enumerated().map { (n, text) throws(ZeroShotError) -> Int in
          guard let v = Int(text.trimmingSpaces()) else {
            throw .badItem(path: paths[1], line: n + 1, reason: "a label must be an integer, got '\(text.prefix(40))'")
          }
          return v
        }
        if labels.count != lines.count { throw .labelCountMismatch(path: paths[1], items: lines.count, labels: labels.count) }
      }
      for (n, text) in lines.enumerated() where items.count < cap {
        let object: JSONValue
        do { object = try JSONValue.parse(Array(text.utf8)) } catch {
          throw .badItem(path: main, line: n + 1, reason: "not JSON (\(error.description))")
        }
        guard case .object = object else { throw .badItem(path: main, line: n + 1, reason: "expected a JSON object") }
        do {
          items.append(try item(task, object, label: labels.isEmpty ? nil : labels[n]))
        } catch let reason as FieldError {
          throw .badItem(path: main, line: n + 1, reason: reason.message)
        } catch {
          throw .badItem(path: main, line: n + 1, reason: "\(error)")
        }
      }
    }
    if items.isEmpty && cap > 0 { throw .noItems(path: main) }
    return items
  }

  struct FieldError: Error { var message: String }

  static func string(_ o: JSONValue, _ key: String) throws -> String {
    guard let s = o[key]?.stringValue else { throw FieldError(message: "missing text field '\(key)'") }
    return s
  }

  /// ARC / OpenBookQA: `question.choices[].{text,label}` and the gold index from `answerKey`.
  static func lettered(_ o: JSONValue, stripKey: Bool) throws -> (stem: String, texts: [String], gold: Int) {
    guard let q = o["question"], case .object = q else { throw FieldError(message: "missing object 'question'") }
    let stem = try string(q, "stem")
    guard let list = q["choices"]?.arrayValue, !list.isEmpty else { throw FieldError(message: "missing 'question.choices'") }
    var texts: [String] = [], labels: [String] = []
    for c in list { texts.append(try string(c, "text")); labels.append(try string(c, "label")) }
    var key = try string(o, "answerKey")
    if stripKey { key = String(key.drop { $0 == " " }) }
    guard let gold = labels.firstIndex(of: key) else {
      throw FieldError(message: "answerKey '\(key)' is not among the labels \(labels)")
    }
    return (stem, texts, gold)
  }

  static func item(_ task: ZeroShotTask, _ o: JSONValue, label: Int?) throws -> ZeroShotItem {
    switch task {
    case .boolq:
      guard let answer = o["answer"]?.boolValue else { throw FieldError(message: "missing boolean 'answer'") }
      return ZeroShotPrompt.boolq(passage: try string(o, "passage"), question: try string(o, "question"), answer: answer)
    case .piqa:
      guard let label, (0...1).contains(label) else { throw FieldError(message: "the label must be 0 or 1") }
      return ZeroShotPrompt.piqa(goal: try string(o, "goal"), solutions: [try string(o, "sol1"), try string(o, "sol2")], label: label)
    case .winogrande:
      let answer = try string(o, "answer")
      guard let gold = ["1": 0, "2": 1][answer] else { throw FieldError(message: "'answer' must be \"1\" or \"2\", got '\(answer)'") }
      if let label, label != gold + 1 { throw FieldError(message: "'answer' \(answer) disagrees with the labels file (\(label))") }
      guard let item = ZeroShotPrompt.winogrande(sentence: try string(o, "sentence"),
                                                 options: [try string(o, "option1"), try string(o, "option2")], answer: gold)
      else { throw FieldError(message: "the sentence has no '_'") }
      return item
    case .arcEasy, .arcChallenge:
      let (stem, texts, gold) = try lettered(o, stripKey: false)
      return ZeroShotPrompt.arc(question: stem, choices: texts, gold: gold)
    case .openbookqa:
      let (stem, texts, gold) = try lettered(o, stripKey: true)
      return ZeroShotPrompt.openbookqa(questionStem: stem, choices: texts, gold: gold)
    case .hellaswag:
      throw FieldError(message: "HellaSwag is not JSON")
    }
  }

  /// The file's lines without their "\n" (and "\r\n"); blank lines dropped unless `keepEmpty`.
  static func readLines(_ path: String, keepEmpty: Bool) throws(ZeroShotError) -> [String] {
    let attributes: [FileAttributeKey: Any]
    do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
      throw .unreadable(path: path, reason: "no such file")
    }
    if let type = attributes[.type] as? FileAttributeType, type == .typeDirectory {
      throw .unreadable(path: path, reason: "is a directory")
    }
    if let size = attributes[.size] as? Int, size > maxFileBytes {
      throw .unreadable(path: path, reason: "\(size) bytes, more than the \(maxFileBytes) accepted")
    }
    guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path, reason: "cannot open") }
    guard let text = String(data: data, encoding: .utf8) else { throw .unreadable(path: path, reason: "not UTF-8") }
    // "\r\n" is one Character in Swift, so both line ends are separators here.
    var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
    if lines.last == "" { lines.removeLast() }
    return keepEmpty ? lines : lines.filter { !$0.trimmingSpaces().isEmpty }
  }
}
