// `pare tokenize` (issue 4).

enum TokenizeCommand {
  static let help = "usage: pare tokenize (not implemented yet)"

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    throw RuntimeError("'pare tokenize' is not implemented yet")
  }
}
