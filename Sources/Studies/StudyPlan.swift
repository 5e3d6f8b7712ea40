// A study plan: a base configuration, a training schedule of stages, an evaluation protocol and the
// ablations to run, read from YAML. A plan is laid over the built-in defaults (`DefaultPlan.yaml`)
// and then over its chosen preset (`quick`: Fashion-MNIST on a CPU; `paper`: CelebA-64 on a GPU), so
// a plan file need only list its ablations.
import Evaluation
import Foundation
import MaskDM
import Training
import Yams

/// What makes variants comparable: equal total training time or equal total steps.
public enum BudgetKind: String, Codable, Sendable {
  case time, steps
}

/// One training stage of the schedule (masked pre-training, fine-tuning, …).
public struct StageSpec: Equatable {
  public var name: String
  /// The earlier stage whose (non-EMA) weights initialise this one.
  public var initFrom: String?
  /// Steps to train (with `compare: time`, a cap that the time budget normally reaches first).
  public var steps: Int?
  /// Seconds of training (`compare: time`).
  public var seconds: Double?
  /// Configuration keys this stage sets over the base (`dataset.MASK_RATIO`, `lr`, …).
  public var set: [ConfigEdit]
}

/// Where the real images of the FID comparison come from.
public struct ReferenceSpec: Equatable {
  /// The split of the final stage's dataset (its classes too) to measure, e.g. `test`.
  public var split: String = "test"
  /// How many of its images.
  public var count: Int = 1000
  /// A precomputed `.npz` (mu/sigma) instead; KID is then not available.
  public var statistics: String?
  /// The seed of the random subset of the split the reference is drawn from (not its first images).
  public var seed: UInt64 = 0
}

/// When variants are evaluated.
public enum EvaluationTime: String, Codable, Sendable {
  /// After the last stage.
  case end
  /// After every stage (FID along the schedule).
  case everyStage = "every_stage"
}

/// How every variant is measured.
public struct EvaluationProtocol: Equatable {
  public var samples = 1000
  /// How samples are drawn (the plan's `sampler`, `sampling_steps` and `eta`).
  public var sampler = Sampler.ddim(steps: 50, eta: 0)
  public var batchSize = 64
  public var reference = ReferenceSpec()
  public var kid = true
  /// Images in each variant's sample grid.
  public var grid = 36
  public var when = EvaluationTime.end
  public var seed: UInt64 = 0
  /// Improved precision and recall (k = 3) beside FID, from the reference features.
  public var precisionRecall = true
  /// Evaluations along each variant's training (nil: after its stages only).
  public var along: TimelineSpec?
  /// The resize to the network's input (`fid_resize`): ttur (the paper's) or clean (clean-fid's). Kept last (see `legacyText`).
  public var fidResize = FIDResize.ttur

  /// The protocol of one point along training: `along.samples` images, no grid.
  var alongPoint: EvaluationProtocol? {
    guard let along else { return nil }
    var p = self
    (p.samples, p.grid, p.along) = (along.samples, 0, nil)
    return p
  }

  /// The key of this protocol's evaluation cache (one per stage and key in the study's `evaluations/`).
  var cacheKey: String { String(fnv1aHex("metrics v\(metricCodeVersion)\n" + resultEncoding).prefix(10)) }

  /// The key of the cache of a point along training measured with this (point) protocol.
  var alongCacheKey: String { String(fnv1aHex("along point, metrics v\(metricCodeVersion)\n" + resultEncoding).prefix(10)) }
}

/// REMOVE a part or REPLACE it with alternatives.
public enum AblationAction: String, Codable, Sendable {
  case remove = "REMOVE"
  case replace = "REPLACE"
}

/// One ablation of the plan, compiled: a study in the report.
public struct Ablation: Equatable {
  public var name: String
  /// The part it changes, recognised from the plan's wording once, when the plan is read.
  public var part: PlanPart
  public var action: AblationAction
  /// One per variant: each replacement, or REMOVE's one change.
  public var choices: [PlanReplacement]
  public var metrics: [String]
  /// Where the plan writes it ("plan demo.yaml line 14", "ablation Mask Type"): the context of its errors.
  public var context: [String]
}

/// A resolved plan: defaults, preset and the file merged, every field checked.
public struct StudyPlan {
  public var name: String
  public var title: String
  public var preset: String
  public var description: String
  public var compare: BudgetKind
  /// The label of the unablated schedule.
  public var baseline: String
  public var base: TrainConfig
  public var stages: [StageSpec]
  public var evaluation: EvaluationProtocol
  /// Named datasets replacements may use (`pre-training dataset: CelebA`), as `dataset.*` overrides;
  /// `target` is the fine-tuning data of a pre-training-dataset study.
  public var datasets: [String: [ConfigEdit]]
  public var ablations: [Ablation]
  /// Training seeds per variant (`evaluation.repeats`): the base seed and the next ones; with a
  /// sequential design, the most it may run.
  public var repeats: Int { decision.design.maxSeeds }
  /// How verdicts are reached: the primary metric, the family's error rate, the equivalence margin and
  /// the seeds (fixed or sequential).
  public var decision: DecisionSpec
  /// What `repeats` (and `--repeats`) may be.
  public static let repeatsRange = 1...100
  /// Step rates the plan carries for its time budgets (`calibration:`), so that every machine trains
  /// the same steps.
  public var calibration: Calibration?
  /// The merged plan: defaults, preset, the plan's keys and its preset's.
  public var resolved: Node
  /// The merged plan as YAML (what the report shows as the resolved settings); written when asked
  /// for, as only a run needs it.
  public var resolvedYAML: String { (try? Yams.serialize(node: resolved)) ?? "" }

  static let topKeys = ["name", "title", "description", "preset", "compare", "baseline", "base", "stages",
                        "evaluation", "datasets", "ablations", "presets", "calibration"]

  /// Reads the plan file at `url` with `preset` (default: the plan's `preset:` key, else `quick`).
  public static func load(_ url: URL, preset: String? = nil) throws -> StudyPlan {
    let text: String?
    text = try within([]) { try YAMLReader.contents(ofFile: url.path) }
    guard let text else {
      throw PlanError("cannot read the plan \(url.path): check the path")
    }
    return try StudyPlan(yaml: text, name: url.deletingPathExtension().lastPathComponent, preset: preset, file: url.lastPathComponent)
  }

  /// YAML text as a node (an empty document as an empty mapping); a reader's error as a plan error.
  static func compose(_ text: String, _ what: String) throws -> Node {
    try within([]) { try YAMLReader.compose(text, source: what) ?? emptyMapping }
  }

  /// The built-in default plan, composed once per process (every plan is read over it).
  static let defaults = Result { try compose(defaultPlanYAML, "the built-in default plan") }

  /// Reads a plan from YAML text; `name` is used when the plan has no `name:`; `file` (the plan's
  /// file name) is where its errors say they are.
  public init(yaml text: String, name fallbackName: String = "study", preset: String? = nil, file: String? = nil) throws {
    let (doc, chosen) = try Self.layers(text, preset: preset)
    let m = try PlanMapping(doc, path: "", allowed: Self.topKeys)

    self.name = try m.string("name") ?? fallbackName
    self.title = try m.string("title") ?? self.name
    self.preset = chosen
    // The plan's and the preset's names make the study directory's; the title heads reports and scripts.
    try checkName(name, "the plan's name", isFileName: true)
    try checkName(chosen, "the preset", isFileName: true)
    try checkName(title, "the plan's title", isFileName: false, limit: 4 * maximumNameBytes)
    self.description = try m.string("description") ?? ""
    let compareText = try m.string("compare") ?? "time"
    guard let compare = BudgetKind(rawValue: compareText) else { throw PlanError("compare must be time or steps (got \(compareText))") }
    self.compare = compare
    self.baseline = try m.string("baseline") ?? "baseline"
    try checkName(baseline, "baseline", isFileName: false)
    guard let baseNode = m["base"] else { throw PlanError("the plan has no base: configuration") }
    var base = TrainConfig()
    try within([]) { try base.apply(baseNode, source: "base") }
    self.base = base
    self.stages = try Self.readStages(m.sequence("stages"), compare: compare)
    (self.evaluation, self.decision) = try Self.readEvaluationAndDecision(m["evaluation"], compare: compare)
    self.calibration = try Self.readCalibration(m["calibration"])
    if calibration != nil, compare != .time {
      throw PlanError("calibration: turns time budgets into steps, but this plan compares at equal steps (compare: steps); remove one")
    }
    self.datasets = try Self.readDatasets(m["datasets"])
    if m["ablations"]?.sequence?.isEmpty == true {
      throw PlanError("ablations: is an empty list; add an ablation (name, part, action, replacements) or remove the key to train the baseline alone")
    }
    let context = ChoiceContext(compare: compare, datasets: datasets, evaluation: evaluation, base: base, plan: file.map { "plan \($0)" } ?? "the plan")
    self.ablations = try m.sequence("ablations").enumerated().map { try Self.readAblation($1, index: $0, context: context) }
    if evaluation.along == nil, let a = ablations.first(where: { $0.metrics.contains("time to target") }) {
      throw PlanError("ablation \(a.name) asks for time to target, which needs FID along training: add evaluation.along: {every: …, samples: …}")
    }
    self.resolved = doc
  }

  /// The plan's document laid over the defaults (defaults, the default preset, the plan, the plan's
  /// preset) and the preset chosen.
  static func layers(_ text: String, preset: String?) throws -> (Node, String) {
    let user = try Self.compose(text, "the plan")
    let defaults = try Self.defaults.get()
    let top = try PlanMapping(user, path: "", allowed: Self.topKeys)
    let chosen = try preset ?? top.string("preset") ?? "quick"
    func presetNames(_ doc: Node) -> [String] {
      guard let presets = doc.mapping?["presets"]?.mapping else { return [] }
      return presets.keys.compactMap(\.string)
    }
    let known = Set(presetNames(defaults) + presetNames(user))
    guard known.contains(chosen) else {
      throw PlanError("unknown preset \(chosen); this plan has: \(known.sorted().joined(separator: ", "))")
    }
    func layered(_ doc: Node) -> Node {
      var pairs = (doc.mapping ?? [:]).filter { $0.key.string != "presets" }.map { ($0.key, $0.value) }
      pairs.removeAll { $0.0.string == "preset" }
      let top = Node(pairs, Tag(.map), .block)
      guard let p = doc.mapping?["presets"]?.mapping?[chosen] else { return top }
      return merged(top, p)
    }
    return (merged(layered(defaults), layered(user)), chosen)
  }

  /// `evaluation:` as the protocol and the decision spec, checked against each other and the budget kind.
  static func readEvaluationAndDecision(_ node: Node?, compare: BudgetKind) throws -> (EvaluationProtocol, DecisionSpec) {
    let evaluation = try readEvaluation(node)
    let keys = try PlanMapping(node, path: "evaluation", allowed: evaluationKeys)
    let decision = try readDecision(keys, evaluation: evaluation)
    if keys["target_fid"] != nil {
      throw PlanError("evaluation.target_fid is no longer read: a time to target is now each variant's DSM-equivalent time "
                        + "(where DSM only's curve reaches the variant's final primary metric, docs/studies.md); remove the key")
    }
    if let along = evaluation.along, along.samples > evaluation.samples {
      throw PlanError("evaluation.along.samples (\(along.samples)) is more than the final evaluation's samples (\(evaluation.samples)): points along training are meant to be cheaper")
    }
    if case .seconds = evaluation.along?.every, compare == .steps {
      throw PlanError("evaluation.along.every is in seconds, but this plan compares at equal steps: give it in steps (e.g. every: 1000)")
    }
    return (evaluation, decision)
  }

  static func readStages(_ nodes: [Node], compare: BudgetKind) throws -> [StageSpec] {
    guard !nodes.isEmpty else { throw PlanError("stages: the plan needs at least one training stage") }
    var stages: [StageSpec] = []
    for (i, node) in nodes.enumerated() {
      let m = try PlanMapping(node, path: "stages[\(i)]", allowed: ["name", "init_from", "steps", "seconds", "set"])
      let name = try m.string("name") ?? "stage\(i + 1)"
      try checkName(name, m.at("name"), isFileName: true)  // its run directory is runs/<name>-<identity>
      guard !stages.contains(where: { $0.name == name }) else { throw PlanError("stages: two stages are named \(name)") }
      let initFrom = try m.string("init_from")
      if let initFrom, !stages.contains(where: { $0.name == initFrom }) {
        throw PlanError("\(m.at("init_from")): \(initFrom) is not an earlier stage (earlier: \(stages.map(\.name).joined(separator: ", ")))")
      }
      let stage = StageSpec(name: name, initFrom: initFrom, steps: try m.int("steps"), seconds: try m.double("seconds"),
                            set: try planEdits(m["set"], path: m.at("set")))
      switch compare {
      case .time where (stage.seconds ?? 0) <= 0:
        throw PlanError("\(m.at("seconds")): with compare: time every stage needs a positive time budget in seconds")
      case _ where (stage.seconds ?? 0) > 1e8 || (stage.steps ?? 0) > 1_000_000_000_000 || (stage.steps ?? 0) < 0:
        throw PlanError("\(m.path): a stage's budget is at most 10^8 seconds and 10^12 steps, and not negative")
      case .steps where (stage.steps ?? 0) <= 0:
        throw PlanError("\(m.at("steps")): with compare: steps every stage needs a positive number of steps")
      default: break
      }
      stages.append(stage)
    }
    return stages
  }

  static let evaluationKeys = ["samples", "sampler", "sampling_steps", "eta", "batch_size", "reference", "kid", "grid", "when",
                               "seed", "repeats", "along", "target_fid", "precision_recall", "primary_metric", "equivalence_margin", "alpha", "fid_resize"]

  static func readEvaluation(_ node: Node?) throws -> EvaluationProtocol {
    let m = try PlanMapping(node, path: "evaluation", allowed: evaluationKeys)
    var e = EvaluationProtocol()
    e.samples = try m.int("samples") ?? e.samples
    let samplerName = try m.string("sampler") ?? e.sampler.name
    let steps = try m.int("sampling_steps") ?? e.sampler.steps ?? 50
    let eta = try m.double("eta") ?? e.sampler.eta ?? 0
    e.batchSize = try m.int("batch_size") ?? e.batchSize
    e.kid = try m.bool("kid") ?? e.kid
    e.precisionRecall = try m.bool("precision_recall") ?? e.precisionRecall
    e.along = try readAlong(m["along"])
    e.grid = try m.int("grid") ?? e.grid
    e.seed = UInt64(max(0, try m.int("seed") ?? 0))
    if let r = try m.string("fid_resize") {
      guard let resize = FIDResize(rawValue: r) else {
        throw PlanError("evaluation.fid_resize must be \(FIDResize.allCases.map(\.rawValue).joined(separator: " or ")) (got \(r))")
      }
      e.fidResize = resize
    }
    if let w = try m.string("when") {
      guard let when = EvaluationTime(rawValue: w) else { throw PlanError("evaluation.when must be end or every_stage (got \(w))") }
      e.when = when
    }
    e.sampler = try within(["evaluation.sampler"]) { try Sampler.parse(samplerName, steps: steps, eta: eta) }
    guard e.samples >= 2 else { throw PlanError("evaluation.samples must be at least 2 (FID needs a covariance)") }
    // Upper bounds far above any study's, so that no count can overflow what is computed from it.
    for (key, value, limit) in [("samples", e.samples, 10_000_000), ("batch_size", e.batchSize, 100_000), ("grid", e.grid, 10_000),
                                ("sampling_steps", steps, 100_000)] where value > limit {
      throw PlanError("evaluation.\(key) is \(value); it may be at most \(limit)")
    }
    guard e.batchSize > 0, steps > 0, e.grid >= 0 else {
      throw PlanError("evaluation.batch_size and sampling_steps must be positive, grid ≥ 0")
    }
    let r = try PlanMapping(m["reference"], path: "evaluation.reference", allowed: ["split", "count", "statistics", "seed"])
    e.reference.split = try r.string("split") ?? e.reference.split
    e.reference.count = try r.int("count") ?? e.reference.count
    if let seed = try r.int("seed") {
      guard seed >= 0 else { throw PlanError("evaluation.reference.seed must be a non-negative integer (got \(seed))") }
      e.reference.seed = UInt64(seed)
    }
    e.reference.statistics = try r.string("statistics")
    guard e.reference.count >= 2, e.reference.count <= 100_000_000 else {
      throw PlanError("evaluation.reference.count must be 2 to 10^8 images (got \(e.reference.count))")
    }
    return e
  }

  /// `along: {every: 10 s | 500 | 500 steps, samples: M}`.
  static func readAlong(_ node: Node?) throws -> TimelineSpec? {
    guard let node, !node.isNullNode else { return nil }
    let m = try PlanMapping(node, path: "evaluation.along", allowed: ["every", "samples"])
    guard let everyNode = m["every"] else {
      throw PlanError("evaluation.along needs every: the spacing of its points, in steps (500) or seconds (10 s)")
    }
    let text = everyNode.text.lowercased().trimmingCharacters(in: .whitespaces)
    let every: TimelineSpec.Interval
    let number = Double(text.prefix { "0123456789.eE+-".contains($0) })
    let unit = text.drop { "0123456789.eE+-".contains($0) }.trimmingCharacters(in: .whitespaces)
    switch (number, unit) {
    case let (n?, u) where ["", "step", "steps"].contains(u) && n == n.rounded() && n >= 1 && n <= 1e12: every = .steps(Int(n))
    case let (n?, u) where ["s", "sec", "second", "seconds"].contains(u) && n > 0 && n <= 1e9: every = .seconds(n)
    default:
      throw PlanError("evaluation.along.every must be a positive number of steps (500, at most 10^12) or seconds (10 s) (got \(everyNode.text))")
    }
    guard let samples = try m.int("samples") else {
      throw PlanError("evaluation.along needs samples: the generated images of each point (fewer than the final evaluation's)")
    }
    guard samples >= 4 else { throw PlanError("evaluation.along.samples must be at least 4 (FID and precision/recall need several; got \(samples))") }
    return TimelineSpec(every: every, samples: samples)
  }

  static func readDatasets(_ node: Node?) throws -> [String: [ConfigEdit]] {
    guard let node, !node.isNullNode else { return [:] }
    guard let map = node.mapping else { throw PlanError("datasets must map names to dataset settings") }
    var out: [String: [ConfigEdit]] = [:]
    for (k, v) in map {
      guard let name = k.string else { continue }
      try checkName(name, "datasets: the name", isFileName: false)
      guard let settings = v.mapping else { throw PlanError("datasets.\(name) must be a mapping of dataset keys (NAME, PATH, CLASSES, …)") }
      // `about:` explains what the entry stands for; it is not a dataset key.
      out[name] = try settings.compactMap { key, value in
        guard let key = key.string, key != "about" else { return nil }
        return try within(["datasets.\(name)"]) { try ConfigEdit(key: "dataset.\(key)", value: value) }
      }
    }
    return out
  }

  /// What every report measures; a plan's `metrics:` names some of them.
  static let knownMetrics = ["FID", "KID", "training time", "precision", "recall", "time to target"]
}
