// `maskdm convert CKPT.pt -o weights.safetensors [--ema] [--check-config CONFIG.yaml]`
import ArgumentParser
import Evaluation
import TorchFormats
import Foundation
import Training

struct ConvertCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "convert", abstract: "Convert a checkpoint of the authors' PyTorch code into a .safetensors weights file.",
    discussion: """
      CKPT is a model-N.pt written by the authors' trainer (or a saved state dict). It is read as data \
      only: anything but tensors and containers is refused. The result loads with \
      `maskdm sample FILE --config C` and `maskdm train C --init-from FILE`.
      """)

  @Argument(help: "The PyTorch checkpoint (.pt).") var checkpoint: String
  @Option(name: .shortAndLong, help: "The .safetensors file to write.") var out: String
  @Flag(help: "Take the EMA weights (ema.ema_model.*) instead of the raw model weights.") var ema = false
  @Option(help: "Load the result into the model of this config and report missing/unexpected names.") var checkConfig: String?

  func run() throws {
    guard out.hasSuffix(".safetensors") else { throw ValidationError("-o must name a .safetensors file, got \(out)") }
    let source = URL(fileURLWithPath: checkpoint)
    guard FileManager.default.fileExists(atPath: source.path) else { throw ValidationError("no such checkpoint: \(checkpoint)") }
    // Read the config first: a typo there should not cost a conversion.
    let config = try checkConfig.map { try loadConfig($0, overrides: []) }
    let result = try convertAuthorsCheckpoint(source, to: URL(fileURLWithPath: out), weights: ema ? .ema : .model)
    print("wrote \(out): \(result.tensorCount) tensors, \(result.scalarCount) parameters (\(result.weights.rawValue) weights"
            + (result.step.map { " of step \($0))" } ?? ")"))
    if !result.dropped.isEmpty {
      print("left out \(result.dropped.count) diffusion buffers: \(result.dropped.prefix(4).joined(separator: ", "))"
              + (result.dropped.count > 4 ? ", …" : ""))
    }
    if let config, let path = checkConfig {
      let report = try checkWeights(URL(fileURLWithPath: out), against: config)
      guard report.missing.isEmpty, report.unexpected.isEmpty else {
        throw ValidationError("""
          the weights do not match the model of \(path):
            missing (\(report.missing.count)): \(report.missing.prefix(8).joined(separator: ", "))
            unexpected (\(report.unexpected.count)): \(report.unexpected.prefix(8).joined(separator: ", "))
          """)
      }
      print("every parameter of the model of \(path) is present, with its shape")
    }
  }
}
