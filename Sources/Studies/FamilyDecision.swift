// The verdicts of a plan, decided together. Each comparison (a variant against its study's baseline, on
// the primary metric, paired by seed) carries two hypotheses: "no difference" (rejected: better or worse)
// and, with a margin, "not equivalent" (rejected: equivalent within the margin). All of a plan's
// hypotheses form one family whose chance of any false verdict is at most `alpha`: a step-down over the
// family (Holm, with Shaffer's count of the hypotheses that can be true together), each hypothesis tested
// at its local level with the design's boundaries (at one look: the level itself). A rejection raises the
// others' local levels (Maurer and Bretz 2013, for group-sequential designs). What is left is undecided.
import Foundation

/// One comparison's outcome.
public struct ComparisonDecision: Codable, Equatable, Sendable {
  public var verdict: Verdict
  /// The seeds of the look that decided it, or the last look read.
  public var seeds: Int
  /// The tests at that look.
  public var test: PairedTest?
  /// The step-down adjusted p of the difference and of the equivalence, at that look (fixed designs: the
  /// verdict's criterion; sequential ones compare `test`'s p with `nominalLevel`).
  public var adjustedDifference: Double?
  public var adjustedEquivalence: Double?
  /// The nominal level the deciding p met (sequential designs).
  public var nominalLevel: Double?
}

/// The outcome of a family at the looks its seeds allow.
public struct FamilyOutcome: Equatable, Sendable {
  public var decisions: [ComparisonDecision]
  /// The seed counts looked at, in order; the last is where the design stopped (or the seeds so far).
  public var looksRead: [Int]
  /// True when every comparison is decided or the design has no look left.
  public var finished: Bool
}

/// Decides a family of comparisons under `design`.
public struct FamilyDecision {
  public var design: SeedDesign
  public var alpha: Double
  private let table: BoundaryTable

  public init(design: SeedDesign, alpha: Double = 0.05) {
    (self.design, self.alpha) = (design, alpha)
    table = BoundaryTable(design: design)
  }

  /// `differences[c]`: comparison c's per-seed differences (variant - baseline) in seed order;
  /// `margins[c]`: its equivalence margin in the metric's units (nil: none). Reads every look the
  /// shortest comparison's seeds reach and stops at the first where all are decided.
  public func decide(differences: [[Double]], margins: [Double?]) -> FamilyOutcome {
    let m = differences.count
    var rejected = Set<Int>()  // 2c: difference of c; 2c + 1: equivalence of c
    var decidedAt = [Int?](repeating: nil, count: m)
    var decisions = [ComparisonDecision](repeating: ComparisonDecision(verdict: .oneSeed, seeds: 0), count: m)
    let available = differences.map(\.count).min() ?? 0
    var read: [Int] = []
    for (k, n) in design.looks.enumerated() where n <= available {
      read.append(n)
      let tests = (0..<m).map { PairedTest(differences: Array(differences[$0].prefix(n)), margin: margins[$0]) }
      var hypotheses: [Int] = []
      for c in 0..<m where tests[c] != nil {
        hypotheses.append(2 * c)
        if tests[c]?.margin != nil { hypotheses.append(2 * c + 1) }
      }
      func p(_ h: Int) -> Double { h % 2 == 0 ? tests[h / 2]!.pDifference : tests[h / 2]!.pEquivalence }
      var changed = true
      while changed {
        changed = false
        let open = hypotheses.filter { !rejected.contains($0) }
        let canBeTrue = Set(open.map { $0 / 2 }).count
        guard canBeTrue > 0 else { break }
        let local = alpha / Double(canBeTrue)
        for h in open {
          let level = table.nominal(look: k, alpha: local, twoSided: h % 2 == 0)
          guard p(h) <= level else { continue }
          rejected.insert(h)
          changed = true
          let c = h / 2
          if decidedAt[c] == nil || h % 2 == 0 {
            decidedAt[c] = k
            decisions[c].nominalLevel = level
          }
        }
      }
      // The family's adjusted p-values at this look (for the report; at one look they decide).
      let family = hypotheses.map { FamilyHypothesis(comparison: $0 / 2, kind: $0 % 2 == 0 ? .difference : .equivalence, p: p($0)) }
      let adjusted = stepDownAdjusted(family)
      for c in 0..<m where decidedAt[c] == nil || decidedAt[c] == k {
        decisions[c].seeds = n
        decisions[c].test = tests[c]
        decisions[c].adjustedDifference = zip(hypotheses, adjusted).first { $0.0 == 2 * c }?.1
        decisions[c].adjustedEquivalence = zip(hypotheses, adjusted).first { $0.0 == 2 * c + 1 }?.1
        decisions[c].verdict = Self.verdict(tests[c], differenceRejected: rejected.contains(2 * c),
                                            equivalenceRejected: rejected.contains(2 * c + 1))
      }
      if decidedAt.allSatisfy({ $0 != nil }) { return FamilyOutcome(decisions: decisions, looksRead: read, finished: true) }
    }
    if read.isEmpty, available >= 2 {
      for c in 0..<m { decisions[c].verdict = .pending }
    }
    let last = design.looks.last ?? 0
    return FamilyOutcome(decisions: decisions, looksRead: read, finished: read.last == last)
  }

  static func verdict(_ test: PairedTest?, differenceRejected: Bool, equivalenceRejected: Bool) -> Verdict {
    guard let test else { return .oneSeed }
    if differenceRejected { return test.direction }
    if equivalenceRejected { return .equivalent }
    return .noClearDifference
  }
}
