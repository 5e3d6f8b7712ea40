// The typed form of an ablation. A plan is compiled once, when it is read (PlanAblationReader.swift):
// each ablation becomes its part and one typed choice per variant, every value checked then, so that
// expanding the plan into variants (PlanExpansion.swift) only applies choices and never reads text.
import Foundation
import MaskDM
import Training

/// The masked stage's share of the budget in a pre-training-length ablation.
public enum BudgetShare: Equatable, Sendable {
  /// A share of the total budget (0.25), remembered as written with a percent sign or not.
  case share(Double, percent: Bool)
  /// Steps of training (`compare: steps` plans).
  case steps(Int)
  /// Seconds of training (`compare: time` plans).
  case seconds(Double)

  /// The amount out of a total budget of `total` (seconds or steps).
  func amount(of total: Double) -> Double {
    switch self {
    case let .share(v, _): return v * total
    case let .steps(n): return Double(n)
    case let .seconds(s): return s
    }
  }

  /// The canonical spelling: `25%`, `0.25`, `5000 steps`, `20 s`.
  public var spelling: String {
    switch self {
    case let .share(v, percent): return percent ? "\(gFormat(v * 100))%" : gFormat(v)
    case let .steps(n): return "\(n) steps"
    case let .seconds(s): return "\(gFormat(s)) s"
    }
  }
}

/// A sampler as an ablation names it: its name and, optionally, its steps (the evaluation's otherwise).
public struct SamplerChoice: Equatable, Sendable {
  public var name: String
  public var steps: Int?

  /// The sampler over `evaluation`'s: its steps and eta where the choice leaves them out.
  func resolved(over evaluation: Sampler) throws -> Sampler {
    try Sampler.parse(name, steps: steps ?? evaluation.steps ?? 50, eta: evaluation.eta ?? 0)
  }

  public var spelling: String { name == "ddpm" ? name : steps.map { "\(name) \($0)" } ?? name }
}

/// One variant's change of an ablated part, typed.
public enum PlanChoice: Equatable {
  /// The position embedding on or off (in the masked stages, or every stage of a schedule without one).
  case positionEmbedding(Bool)
  /// Two-stage training or a single stage for the whole budget.
  case schedule(ScheduleChoice)
  /// The mask ratio of the masked stages.
  case maskRate(Double)
  /// The mask of the masked stages (a crop without a size keeps the unmasked share of the patches
  /// visible), with a mask rate when one is crossed with it.
  case mask(MaskKind, rate: Double?)
  /// Block masking with blocks of N patches a side.
  case blockSize(Int)
  /// Crop masking with a visible window of N patches a side.
  case cropSize(Int)
  /// The data of the masked stages: a dataset of the plan's `datasets:` (or written inline) by name,
  /// with its settings.
  case dataset(name: String, settings: [ConfigEdit])
  /// The share of the fine-tuning data used.
  case dataFraction(Double)
  case noiseSchedule(BetaSchedule)
  case sampler(SamplerChoice)
  case objective(Objective)
  /// The masked stage's share of the budget.
  case budgetShare(BudgetShare)
  /// A configuration key set in every stage (REMOVE: its "off" value).
  case setting(ConfigEdit)

  /// The canonical spelling a plan writes (`study import` writes each choice so).
  public var spelling: String {
    switch self {
    case let .positionEmbedding(on): return on ? "true" : "false"
    case let .schedule(s): return s.rawValue
    case let .maskRate(r), let .dataFraction(r): return gFormat(r)
    case let .mask(kind, rate):
      // `patch`, `block 4`, `crop`, `crop 5`, with ` at 50%` when a rate is crossed with it.
      return kind.name + (kind.size(of: kind.type).map { " \($0)" } ?? "") + (rate.map { " at \(gFormat($0 * 100))%" } ?? "")
    case let .blockSize(n), let .cropSize(n): return String(n)
    case let .dataset(name, _): return name
    case let .noiseSchedule(s): return s.rawValue
    case let .sampler(s): return s.spelling
    case let .objective(o): return o.configName
    case let .budgetShare(b): return b.spelling
    case let .setting(edit): return edit.valueText
    }
  }
}

/// One variant of an ablation: its choice and the replacement as the plan wrote it (nil for REMOVE),
/// which the variant's label keeps.
public struct PlanReplacement: Equatable {
  public var choice: PlanChoice
  public var written: String?
}

extension Ablation {
  /// The replacements in their canonical spelling (none for REMOVE): what `study import` writes.
  public var spelledReplacements: [String] { action == .remove ? [] : choices.map(\.choice.spelling) }
}
