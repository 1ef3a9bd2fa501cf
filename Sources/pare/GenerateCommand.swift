// `pare generate` (issue 5).

enum GenerateCommand {
  static let help = "usage: pare generate (not implemented yet)"

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    throw RuntimeError("'pare generate' is not implemented yet")
  }
}
