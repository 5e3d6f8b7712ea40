// The plan reader's settings sections: the verdicts' decision (`evaluation.primary_metric`, `alpha`,
// `equivalence_margin`, `repeats`) and the carried calibration (`calibration:`).
import Foundation
import Training
import Yams

extension StudyPlan {
  /// `evaluation.primary_metric` (auto | kid | fid), `alpha`, `equivalence_margin` and `repeats` (N or
  /// {min, max, step}).
  static func readDecision(_ m: PlanMapping, evaluation: EvaluationProtocol) throws -> DecisionSpec {
    let metricText = try m.string("primary_metric")?.lowercased() ?? "auto"
    let metric: PrimaryMetric
    if metricText == "auto" {
      metric = .automatic(samples: evaluation.samples)
    } else if let chosen = PrimaryMetric(rawValue: metricText) {
      metric = chosen
    } else {
      throw PlanError("evaluation.primary_metric must be auto, kid or fid (got \(metricText))")
    }
    if metric == .kid, !evaluation.kid || evaluation.reference.statistics != nil {
      throw PlanError("evaluation.primary_metric is KID, which needs kid: true and real images as the reference (not a statistics file); "
                        + "set primary_metric: fid or give reference: {split: …, count: …}")
    }
    let alpha = try m.double("alpha") ?? 0.05
    guard alpha > 0, alpha < 0.5 else { throw PlanError("evaluation.alpha must be between 0 and 0.5 (got \(alpha))") }
    let margin = try m.double("equivalence_margin") ?? 0.1
    guard margin > 0, margin < 1 else {
      throw PlanError("evaluation.equivalence_margin is a fraction of the baseline's primary metric, between 0 and 1 (got \(margin))")
    }
    return DecisionSpec(primaryMetric: metric, alpha: alpha, equivalenceMargin: margin, design: try readDesign(m["repeats"]))
  }

  /// `repeats: 4` (fixed) or `repeats: {min: 4, max: 12, step: 2}` (sequential).
  static func readDesign(_ node: Node?) throws -> SeedDesign {
    let range = repeatsRange
    func check(_ n: Int, _ key: String) throws -> Int {
      guard range.contains(n) else {
        throw PlanError("\(key) must be \(range.lowerBound) to \(range.upperBound) training seeds per variant (got \(n))")
      }
      return n
    }
    guard let node, !node.isNullNode else { return .fixed(1) }
    if node.mapping == nil {
      guard let n = node.int else { throw PlanError("evaluation.repeats must be a number of seeds or {min: N, max: M, step: S} (got \(node.text))") }
      return .fixed(try check(n, "evaluation.repeats"))
    }
    let r = try PlanMapping(node, path: "evaluation.repeats", allowed: ["min", "max", "step"])
    guard let lo = try r.int("min"), let hi = try r.int("max") else {
      throw PlanError("evaluation.repeats as a sequential design needs min: and max: (e.g. {min: 4, max: 12, step: 2})")
    }
    let step = try r.int("step") ?? 2
    guard try check(lo, "evaluation.repeats.min") >= 2, try check(hi, "evaluation.repeats.max") > lo, step >= 1 else {
      throw PlanError("evaluation.repeats: a sequential design needs 2 ≤ min < max and step ≥ 1 (got min \(lo), max \(hi), step \(step))")
    }
    return .sequential(min: lo, max: hi, step: step)
  }

  /// The plan's `calibration:` block: `{measured_on: TEXT, steps_per_second: {SIGNATURE: RATE, ...}}`.
  static func readCalibration(_ node: Node?) throws -> Calibration? {
    guard let node, !node.isNullNode else { return nil }
    let m = try PlanMapping(node, path: "calibration", allowed: ["measured_on", "steps_per_second"])
    guard let rates = m["steps_per_second"]?.mapping else {
      throw PlanError("calibration.steps_per_second must map stage settings (as `maskdm study run --dry-run` lists them) to steps per second")
    }
    var entries: [SpeedSetting: Calibration.Entry] = [:]
    for (k, v) in rates {
      guard let key = k.string, let rate = v.float, Calibration.rateRange.contains(rate) else {
        throw PlanError("calibration.steps_per_second.\(k.string ?? "?"): a positive number of steps per second, at most 10^6 (got \(v.text))")
      }
      guard let setting = SpeedSetting(line: key) else {
        throw PlanError("calibration.steps_per_second: \(key) is not a stage setting; write it as `maskdm study run --dry-run` lists it "
                          + "(e.g. \"32px p4 c1 d64x5 h2 mlp4 batch 64, patch 0.9, fp32 auto\")")
      }
      entries[setting] = Calibration.Entry(stepsPerSecond: rate, source: "plan", machine: try m.string("measured_on"))
    }
    return Calibration(entries: entries, measuredOn: try m.string("measured_on"))
  }
}
