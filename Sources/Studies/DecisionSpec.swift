// What a plan decides its verdicts on: the primary metric, the family's error rate, the equivalence
// margin and the seeds. KID is the default primary metric below 2048 generated samples: it is unbiased
// at any count, where FID's bias at a few hundred samples is larger than the effects a study tests and
// depends on the model (SPEC: FID is biased upward at small N). From 2048 on, FID.
import Foundation

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
