// Time to a target FID: the paper's claim ("masked pre-training reaches a given FID in a fraction of
// the DSM baseline's training time") as a number with its uncertainty. The target is the final FID of
// the plan's DSM-only variant on its curve (the curve's sample count, mean over seeds), or the plan's
// `evaluation.target_fid`. Each seed's curve gives its own crossing; the speed-up is the ratio of a
// variant's time to the reference's, paired by seed, with a Student-t interval over seeds. A seed that
// never reaches the target within its budget is reported as such and keeps the variant's mean and
// interval out of the table: a mean over the seeds that did would flatter it.
import Foundation

/// The FID the curves are timed against.
public struct TargetFID: Codable, Equatable, Sendable {
  public var fid: Double
  /// Where it comes from, in words.
  public var source: String
  /// The variant the speed-ups are against (the DSM-only one), if the study has it.
  public var referenceSlug: String?
  public var referenceName: String?
  /// True when `fid` is the reference's own final FID (its time is then its whole training time).
  public var isReferenceFinal: Bool
}

/// One variant's time to the target.
public struct TimeToTarget: Codable, Equatable, Sendable {
  public var name: String
  public var slug: String
  public var perSeed: [Seed]
  /// Seconds to the target over seeds; nil unless every seed reached it.
  public var seconds: Estimate?
  /// Time relative to the reference's, paired by seed; nil unless every paired seed reached it.
  public var ratio: Estimate?

  public struct Seed: Codable, Equatable, Sendable {
    public var seed: UInt64
    /// Seconds to the target (nil: not reached within the budget).
    public var seconds: Double?
    /// Already below the target at the first point: `seconds` is an upper bound.
    public var beforeFirstPoint: Bool
    /// seconds / the reference's seconds for this seed.
    public var ratio: Double?
  }

  public var reached: Int { perSeed.filter { $0.seconds != nil }.count }
}

extension StudyReport {
  /// The target of the study's curves, or nil (no curves, or no DSM-only variant and no `target_fid`).
  static func target(_ experiment: Experiment, _ summaries: [VariantSummary]) -> TargetFID? {
    let reference = summaries.first { s in
      experiment.variants.first { $0.slug == s.slug }.map { v in !v.stages.contains(where: \.isMasked) } ?? false
    }
    // The reference as its study row calls it ("DSM only"), else its variant name.
    let referenceName = reference.map { r in experiment.studies.flatMap(\.rows).first { $0.slug == r.slug }?.label ?? r.name }
    if let fid = experiment.plan.targetFID {
      return TargetFID(fid: fid, source: "evaluation.target_fid in the plan", referenceSlug: reference?.slug,
                       referenceName: referenceName, isReferenceFinal: false)
    }
    guard let reference, let last = reference.curve.last, let samples = experiment.plan.evaluation.along?.samples else { return nil }
    return TargetFID(fid: last.fid.mean,
                     source: "the final FID of \(referenceName ?? reference.name) on its curve (\(samples) samples, mean of \(last.fid.n) seed\(last.fid.n == 1 ? "" : "s"))",
                     referenceSlug: reference.slug, referenceName: referenceName, isReferenceFinal: true)
  }

  /// Every variant's time to `target`, each named as its study row calls it ("MDSM only").
  static func timesToTarget(_ target: TargetFID, _ summaries: [VariantSummary], experiment: Experiment) -> [TimeToTarget] {
    let rows = experiment.studies.flatMap(\.rows)
    func label(_ s: VariantSummary) -> String { rows.first { $0.slug == s.slug }?.label ?? s.name }
    let reference = summaries.first { $0.slug == target.referenceSlug }
    // The reference's time per seed: all of its training when the target is its own final FID.
    let referenceSeconds: [UInt64: Double] = reference.map { r in
      Dictionary(r.perSeed.filter(\.finished).compactMap { result -> (UInt64, Double)? in
        let seconds = target.isReferenceFinal ? result.stages.map(timelineSeconds).reduce(0, +) : crossing(target.fid, result).seconds
        return seconds.map { (result.seed ?? 0, $0) }
      }, uniquingKeysWith: { a, _ in a })
    } ?? [:]
    return summaries.compactMap { s -> TimeToTarget? in
      let finished = s.perSeed.filter { $0.finished && !($0.curve ?? []).isEmpty }
      guard !finished.isEmpty else { return nil }
      let seeds = finished.map { r -> TimeToTarget.Seed in
        let c = crossing(target.fid, r)
        let seed = r.seed ?? 0
        let isBefore: Bool = { if case .beforeFirstPoint = c { return true } else { return false } }()
        let ratio = c.seconds.flatMap { t in referenceSeconds[seed].flatMap { $0 > 0 ? t / $0 : nil } }
        return TimeToTarget.Seed(seed: seed, seconds: c.seconds, beforeFirstPoint: isBefore, ratio: ratio)
      }
      let allReached = seeds.allSatisfy { $0.seconds != nil }
      let ratios = seeds.compactMap(\.ratio)
      return TimeToTarget(name: label(s), slug: s.slug, perSeed: seeds,
                          seconds: allReached ? Estimate(values: seeds.compactMap(\.seconds)) : nil,
                          ratio: allReached && ratios.count == seeds.count && s.slug != target.referenceSlug ? Estimate(values: ratios) : nil)
    }
  }

  private static func crossing(_ target: Double, _ result: VariantResult) -> Crossing {
    firstCrossing(of: target, on: (result.curve ?? []).map { ($0.trainingSeconds, $0.fid) })
  }
}

extension TimeToTarget {
  /// The report's sentence: "two-stage reaches the target in 41% of DSM only's time (95% CI 30-55%, 3 seeds)".
  public func sentence(_ target: TargetFID) -> String {
    let against = target.referenceName ?? "the reference"
    let n = perSeed.count
    let missed = perSeed.filter { $0.seconds == nil }.map { String($0.seed) }
    if !missed.isEmpty {
      return "\(name) did not reach FID \(formatted(target.fid, digits: 1)) within its budget in \(missed.count) of \(n) seed\(n == 1 ? "" : "s") "
        + "(seed\(missed.count == 1 ? "" : "s") \(missed.joined(separator: ", "))): no time to target"
    }
    let bound = perSeed.contains(where: \.beforeFirstPoint) ? " (at or before the first evaluated point in some seeds: an upper bound)" : ""
    guard let ratio else {
      return "\(name) reaches FID \(formatted(target.fid, digits: 1)) after \(seconds.map { $0.text() } ?? "—") s of training\(bound)"
    }
    let interval = ratio.low.flatMap { lo in ratio.high.map { hi in
      String(format: " (95%% CI %.0f-%.0f%%, %d seeds)", lo * 100, hi * 100, ratio.n) } } ?? " (1 seed, no interval)"
    return "\(name) reaches \(against)'s \(target.isReferenceFinal ? "final " : "")FID (\(formatted(target.fid, digits: 1))) in "
      + String(format: "%.0f%%", ratio.mean * 100) + " of its time\(interval)\(bound)"
  }
}
