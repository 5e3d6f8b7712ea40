// `maskdm study status DIR [--json] [--repeats N]`: where a study stands, read from its directory
// while `study run` (or a Slurm graph) writes it.
import ArgumentParser
import Foundation
import Studies

struct StudyStatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status", abstract: "Show each variant and seed of a study directory: done, running (step, ETA), failed, pending; and the time left.")
  @Argument(help: "The study directory (as `study run --out` wrote it).") var directory: String
  @Flag(help: "Print JSON instead of the table.") var json = false
  @Option(help: "Training seeds per variant (default: the plan's, or more when results of further seeds are on record).") var repeats: Int?

  func run() throws {
    let status = try StudyStatus.read(URL(fileURLWithPath: directory), repeats: repeats)
    if json {
      let encoder = JSONEncoder()
      encoder.keyEncodingStrategy = .convertToSnakeCase
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try encoder.encode(status), as: UTF8.self))
    } else {
      print(statusTable(status), terminator: "")
    }
  }
}

/// The status as a table: one line per variant and seed, then the counts and the time left.
func statusTable(_ s: StudyStatus) -> String {
  func pad(_ t: String, _ n: Int) -> String { t.count >= n ? t : t + String(repeating: " ", count: n - t.count) }
  let width = max(8, s.entries.map(\.variant.count).max() ?? 8) + 2
  var out = "study \(s.study) in \(s.directory): \(s.entries.count) runs (\(s.repeats) seed\(s.repeats == 1 ? "" : "s") per variant): "
    + "\(s.count(.done)) done, \(s.count(.running)) running, \(s.count(.failed)) failed, \(s.count(.pending)) pending\n"
  out += pad("variant", width) + pad("seed", 8) + pad("state", 9) + "detail\n"
  for e in s.entries {
    var detail: String
    switch e.state {
    case .done: detail = e.fid.map { String(format: "FID %.2f", $0) } ?? ""
    case .failed: detail = e.error ?? ""
    case .running where e.stage == nil:
      detail = e.detail ?? ""
    case .running:
      detail = "\(e.stage ?? "?") step \(e.step ?? 0)/\(e.totalSteps ?? 0)" + (e.etaSeconds.map { ", ETA " + duration($0) } ?? "")
      if let d = e.detail, d.contains(" done") { detail += " (" + d.split(separator: ",").filter { $0.contains(" done") }.joined(separator: ",") + ")" }
    case .pending: detail = e.detail ?? ""
    }
    out += pad(e.variant, width) + pad("\(e.seed)", 8) + pad(e.state.rawValue, 9) + detail + "\n"
  }
  if let left = s.secondsLeft {
    out += "estimated time left: \(duration(left)) (training \(duration(s.trainingSecondsLeft ?? 0)), evaluation \(duration(s.evaluationSecondsLeft ?? 0)))\n"
  } else {
    out += "estimated time left: unknown" + (s.trainingSecondsLeft.map { " (training alone \(duration($0)))" } ?? "") + "\n"
  }
  for n in s.notEstimated { out += "  not estimated: \(n)\n" }
  return out
}
