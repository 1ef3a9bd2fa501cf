// `pare eval` (issue 5).

enum EvalCommand {
  static let help = "usage: pare eval (not implemented yet)"

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    throw RuntimeError("'pare eval' is not implemented yet")
  }
}
