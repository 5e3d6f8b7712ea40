// `maskdm train CONFIG --out RUN_DIR [--resume] [--init-from RUN_or_FILE] [--set key=value …]`
import ArgumentParser
import Engine
import Foundation
import Training

struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train a MaskedUViT: masked pre-training (dataset.MASK_RATIO > 0) or fine-tuning / DSM.",
    discussion: """
      CONFIG is a YAML file in the authors' format (configs/*.yaml). Keys can be overridden with
      --set, e.g. --set train_steps=2000 --set dataset.MASK_RATIO=0.9.
      A killed run continues bit-identically with --resume.
      With --distributed each process of a data-parallel job trains on its share of every batch;
      start them with `maskdm launch -n N -- maskdm train … --distributed` (see README.md).
      """)

  @Argument(help: "The configuration file (YAML).") var config: String
  @Option(name: .shortAndLong, help: "The run directory.") var out: String
  @Flag(help: "Continue the run in --out from its newest checkpoint.") var resume = false
  @Option(help: "Initialise from a pre-training run directory or a .safetensors file (non-EMA weights).")
  var initFrom: String?
  @Option(name: .customLong("set"), help: "Override a key: key=value (repeatable).") var overrides: [String] = []
  @Option(help: "Device: cpu, gpu or auto (overrides the config's `device`).") var device: DeviceChoice?
  @Flag(help: "Print the resolved configuration and exit.") var dryRun = false
  @Flag(help: "Write no TensorBoard files (by default RUN/tb/ holds the curves and sample grids as they come).")
  var noTensorboard = false
  @Option(help: "fp32, or bf16 mixed precision (overrides the config's `precision`).") var precision: Precision?
  @OptionGroup var parallel: DistributedOptions

  func run() throws {
    var resolved = try loadConfig(config, overrides: overrides)
    if let initFrom { resolved.pretrainedModelCkpt = initFrom }
    if let device { resolved.device = device }
    if let precision { resolved.precision = precision }
    try resolved.validate()
    if dryRun {
      print(resolved.yaml(), terminator: "")
      return
    }
    let group = try parallel.join()
    let trainer = try Trainer(config: resolved, runDirectory: URL(fileURLWithPath: out), group: group)
    trainer.tensorBoard = !noTensorboard
    let printer = ProgressPrinter(label: URL(fileURLWithPath: out).lastPathComponent)
    let summary: RunSummary
    do {
      summary = try trainer.train(resume: resume) { printer.handle($0) }
    } catch let error as TrainingError {
      printer.finish()
      throw DivergenceAdvice(error: error, command: adviceCommand(for: error))
    }
    printer.finish()
    guard trainer.isRoot else { return }
    let processes = group.map { $0.size > 1 ? " x \($0.size) processes" : "" } ?? ""
    print(String(format: "done: %d steps, final loss %.4f, %.1f s training (%.1f img/s) on %@%@; weights in %@/latest",
                 summary.steps, summary.finalLoss ?? .nan, summary.trainSeconds, summary.imagesPerSecond,
                 summary.device, processes, summary.runDirectory))
  }
}

extension TrainCommand {
  /// The command that continues after `error`: this one with a tenth of the learning rate, with
  /// --resume when a checkpoint from before the divergence is kept (without it otherwise).
  func adviceCommand(for error: TrainingError) -> String {
    guard case let .diverged(_, _, lastGood, _, lr, _) = error else { return "" }
    var words = ["maskdm", "train", config]
    for o in overrides where !o.hasPrefix("lr=") { words += ["--set", o] }
    words += ["--set", "lr=\(lowerLearningRate(lr))", "-o", out]
    if let initFrom { words += ["--init-from", initFrom] }
    if let device { words += ["--device", device.configName] }
    if let precision { words += ["--precision", precision.configName] }
    if lastGood != nil { words.append("--resume") }
    let line = words.map(shellQuoted).joined(separator: " ")
    return parallel.distributed ? "\(line) --distributed (started as before)" : line
  }
}

/// A diverged run's message with the exact command to run next.
struct DivergenceAdvice: Error, CustomStringConvertible {
  let error: TrainingError
  let command: String
  var description: String { "\(error)\n  \(command)" }
}

/// `word` as a POSIX shell reads it back: as it is when it is plain, else in single quotes.
func shellQuoted(_ word: String) -> String {
  let plain = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-@%")
  if !word.isEmpty, word.unicodeScalars.allSatisfy(plain.contains) { return word }
  return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// Reads a config file and applies `key=value` overrides (dotted keys reach into dataset/network).
func loadConfig(_ path: String, overrides: [String]) throws -> TrainConfig {
  var text = ""
  if path != "-" {
    guard let t = try YAMLReader.contents(ofFile: path) else {
      throw ValidationError("cannot read the config file \(path): check the path")
    }
    text = t
  }
  let edits = try overrides.map { try ConfigEdit(assignment: $0) }
  // `--set k=a --set k=b` would keep b without a word: refused, like a key written twice in YAML.
  var seen: [String: String] = [:]
  for (edit, text) in zip(edits, overrides) {
    let key = edit.key.lowercased()
    if let first = seen[key] { throw ValidationError("--set gives \(edit.key) twice (\(first) and \(text)); keep one") }
    seen[key] = text
  }
  let config = try TrainConfig(yaml: text, source: URL(fileURLWithPath: path).lastPathComponent, requireSettings: path != "-")
    .applying(edits, source: "--set")
  try config.validate()
  return config
}
