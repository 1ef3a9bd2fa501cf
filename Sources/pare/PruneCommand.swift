// `pare prune` (issue 6).

enum PruneCommand {
  static let help = "usage: pare prune (not implemented yet)"

  static func run(_ args: inout Arguments) throws {
    if args.wantsHelp { print(help); return }
    throw RuntimeError("'pare prune' is not implemented yet")
  }
}
