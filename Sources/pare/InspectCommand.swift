// `pare inspect` (issue 3).

enum InspectCommand {
  static let help = "usage: pare inspect (not implemented yet)"

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    throw RuntimeError("'pare inspect' is not implemented yet")
  }
}
