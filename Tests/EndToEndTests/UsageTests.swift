import Testing

@Suite("pare usage")
struct UsageTests {
  @Test("no command prints usage and exits 2")
  func noCommand() throws {
    let r = try CLI.run([])
    #expect(r.status == 2)
    #expect(r.stdout.contains("usage: pare"))
  }

  @Test("an unknown command is a usage error with one error line")
  func unknownCommand() throws {
    let r = try CLI.run(["frobnicate"])
    #expect(r.status == 2)
    #expect(r.stderr.hasPrefix("error: unknown command 'frobnicate'"))
  }
}
