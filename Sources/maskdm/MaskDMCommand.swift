// The `maskdm` command line: a thin layer over the libraries. Each subcommand has its own file in
// Commands/; every one does its MLX work on the engine thread and reports errors as messages, not
// crashes.
import ArgumentParser
import Foundation
import Engine

@main
struct MaskDMCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "maskdm",
    abstract: "Masked diffusion models (MaskDM): train, sample, convert the authors' checkpoints, measure FID, run ablation studies.",
    subcommands: allSubcommands)

  static func main() {
    ThreadBudget.applyOpenBLASTimeout()
    // ArgumentParser writes its error messages to stderr one byte at a time, and stderr is unbuffered:
    // the ranks of a distributed job sharing one stderr interleaved their messages letter by letter.
    // Line-buffered, each line goes out in one write (atomic on a pipe up to 4 KiB).
    setvbuf(stderr, nil, _IOLBF, 1 << 16)
    // Redirected to a file, stdout would be fully buffered: an hour-long `study run > log` would show
    // its progress lines minutes late. Line-buffered, `tail -f log` follows it.
    setvbuf(stdout, nil, _IOLBF, 1 << 16)
    main(nil)
  }
}

/// Every subcommand, in the order `maskdm --help` lists them.
let allSubcommands: [ParsableCommand.Type] = [
  PrepareCommand.self,
  TrainCommand.self,
  LaunchCommand.self,
  SampleCommand.self,
  ConvertCommand.self,
  FIDCommand.self,
  StudyCommand.self,
  BenchCommand.self,
]
