// pare: the command-line tool. Parses arguments, calls the libraries, prints, and maps
// errors to exit codes (0 success, 1 runtime error, 2 usage error). No algorithm lives here.

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
import LinearAlgebra

let usage = """
  usage: pare <command> [options]

  commands:
    inspect   MODEL [--json]                         describe a model file or folder
    tokenize  MODEL (--text S | --file PATH) [--json] token ids (no BOS)
    eval      MODEL --dataset PATH --format wikitext|ptb|text [--seq-len 128] [--max-chunks N] [--json]
    eval      MODEL --tasks boolq,piqa,... [--limit N] [--data DIR] [--json]   zero-shot (lm-eval-harness protocol)
    generate  MODEL --prompt S [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S]
    prune     MODEL --out DIR|FILE.gguf --sparsity S [options]  structured pruning (see `pare prune --help`)
    export    MODEL --out FILE.gguf [--type T] | --out DIR --format hf   for llama.cpp / transformers

  MODEL is a GGUF file, a Hugging Face folder, or a folder Pare wrote.
  Every command takes --threads N (default: all cores) to cap the worker threads.
  Commands that load a model refuse weights holding NaN or Inf (the error names the tensor);
  --allow-non-finite loads them anyway (results that come out non-finite are still errors).
  """

/// The subcommands, each in its own file as `static func run(_ args: inout Arguments) throws`.
let commands: [String: (inout Arguments) throws -> Void] = [
  "inspect": InspectCommand.run,
  "tokenize": TokenizeCommand.run,
  "eval": EvalCommand.run,
  "generate": GenerateCommand.run,
  "prune": PruneCommand.run,
  "export": ExportCommand.run,
]

Allocator.keepLargeBlocks()
// A file-size limit (ulimit -f) then makes writes fail with EFBIG, reported as one error
// line, instead of killing the process.
signal(SIGXFSZ, SIG_IGN)
var argv = Array(CommandLine.arguments.dropFirst())
if argv.isEmpty || argv == ["--help"] || argv == ["-h"] || argv == ["help"] {
  print(usage)
  exit(argv.isEmpty ? 2 : 0)
}
let name = argv.removeFirst()
guard let command = commands[name] else {
  printError("error: unknown command '\(name)'\n\(usage)")
  exit(2)
}
var arguments = Arguments(argv)
/// The commands that load a model, and so take `--allow-non-finite`.
let modelCommands: Set<String> = ["inspect", "eval", "generate", "prune", "export"]
if modelCommands.contains(name) { arguments.allowNonFinite = arguments.flag("--allow-non-finite") }
do {
  if let threads = try arguments.int("--threads", in: 1...1024) { Parallelism.maxThreads = threads }
  try command(&arguments)
  exit(0)
} catch let error as UsageError {
  printError("error: \(error.description)")
  printError("run 'pare \(name) --help' for usage")
  exit(2)
} catch {
  printError("error: \(error)")
  exit(1)
}
