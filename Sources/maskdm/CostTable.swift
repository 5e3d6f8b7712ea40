// The cost part of `study run PLAN --dry-run`: per variant and in all, steps, predicted training and
// evaluation time, device-hours, where the rates came from and what could not be estimated.
import Foundation
import Studies

func costTable(_ c: StudyCost, measured: Bool) -> String {
  func pad(_ t: String, _ n: Int, left: Bool = false) -> String {
    t.count >= n ? t : left ? String(repeating: " ", count: n - t.count) + t : t + String(repeating: " ", count: n - t.count)
  }
  func time(_ s: Double?) -> String { s.map(duration) ?? "?" }
  let width = max(28, c.lines.map(\.name.count).max() ?? 8) + 2
  var out = "\ncost on this machine, \(c.seeds) seed\(c.seeds == 1 ? "" : "s") per variant"
    + (measured ? " (rates measured now: --estimate)" : " (rates on record; --estimate measures them here)") + ":\n"
  out += pad("variant", width) + pad("steps", 10, left: true) + pad("training", 11, left: true) + pad("evaluation", 12, left: true) + "\n"
  for l in c.lines {
    out += pad(l.name, width) + pad(l.steps.map(String.init) ?? "?", 10, left: true) + pad(time(l.trainingSeconds), 11, left: true)
      + pad(time(l.evaluationSeconds), 12, left: true) + "\n"
  }
  out += pad("total (shared stages once)", width) + pad(c.totalSteps.map(String.init) ?? "?", 10, left: true)
    + pad(time(c.trainingSeconds), 11, left: true) + pad(time(c.evaluationSeconds), 12, left: true) + "\n"
  if let hours = c.deviceHours, let t = c.trainingSeconds, let e = c.evaluationSeconds {
    out += "predicted: \(duration(t + e)) in all, \(String(format: "%.3g", hours)) device-hours (one device; compilation, checkpoints and data preparation not counted)\n"
  } else {
    out += "predicted: incomplete (see below)" + (c.trainingSeconds.map { "; training alone \(duration($0)), \(String(format: "%.3g", $0 / 3600)) device-hours" } ?? "") + "\n"
  }
  for s in c.sources { out += "  \(s)\n" }
  for n in c.notEstimated { out += "  not estimated: \(n)\n" }
  return out
}
