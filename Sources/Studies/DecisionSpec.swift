// What a plan decides its verdicts on: the primary metric, the family's error rate, the equivalence
// margin and the seeds. KID is the default primary metric below 2048 generated samples: it is unbiased
// at any count, where FID's bias at a few hundred samples is larger than the effects a study tests and
// depends on the model (SPEC: FID is biased upward at small N). From 2048 on, FID.
import Foundation
import Yams

/// The metric verdicts and speed-ups are decided on (lower is better for both).
public enum PrimaryMetric: String, Codable, Sendable, CaseIterable {
  case kid, fid

  /// KID below 2048 samples, FID from there on.
  public static func automatic(samples: Int) -> PrimaryMetric { samples < 2048 ? .kid : .fid }

  public var label: String { self == .kid ? "KID" : "FID" }
}

/// How a plan's verdicts are reached.
public struct DecisionSpec: Equatable, Sendable {
  public var primaryMetric: PrimaryMetric
  /// The family-wise rate of a false verdict (better, worse or equivalent) over all of the plan's comparisons.
  public var alpha: Double = 0.05
  /// Equivalence margin as a fraction of the baseline's mean primary metric.
  public var equivalenceMargin: Double = 0.1
  public var design: SeedDesign

  /// The family's decision procedure.
  public var family: FamilyDecision { FamilyDecision(design: design, alpha: alpha) }

  /// One sentence for the report and the plan listing.
  public var description: String {
    "primary metric \(primaryMetric.label); the plan's comparisons are one family at a \(formatted(alpha * 100, digits: 0))% family-wise "
      + "error rate (Holm step-down); equivalence margin ±\(formatted(equivalenceMargin * 100, digits: 0))% of the baseline; "
      + design.description
  }
}

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
}
