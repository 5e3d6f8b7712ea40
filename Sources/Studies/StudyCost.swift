// What a plan will cost before it runs (`maskdm study run PLAN --dry-run [--estimate]`): per variant and
// in all, the training steps, the predicted training time and evaluation time on this machine, and
// the device-hours. Training time is steps × seconds per step of each stage setting: from the
// calibration on record (the plan's `calibration:`, the study directory's calibration.json), else from
// runs of the study directory, or measured now with `--estimate` (the median of a few steps of each
// setting on random images; the calibration times the training loop itself, longer). Evaluation time is, per variant and seed, the sampling of the final and
// along-training evaluations plus their Inception features (rates measured with `--estimate`), else
// the mean of the evaluations on record in the study directory; the real images' statistics once per
// study. Compilation (the first steps), checkpoints, data preparation and the statistics computed from
// the features (bootstrap, KID, precision/recall) are not counted. What cannot be estimated is named
// with the reason, never guessed.
import Engine
import Evaluation
import Foundation
import MaskDM
import Training

/// The predicted cost of an experiment with `seeds` training seeds per variant.
public struct StudyCost: Equatable {
  /// One variant over all its seeds (its shared stages counted in full: what it costs alone).
  public struct Line: Equatable {
    public var name: String
    public var slug: String
    /// nil for a time budget not calibrated yet whose step rate is unknown.
    public var steps: Int?
    public var trainingSeconds: Double?
    public var evaluationSeconds: Double?
  }

  public var seeds: Int
  public var lines: [Line]
  /// Every stage once (shared stages once), every seed.
  public var totalSteps: Int?
  public var trainingSeconds: Double?
  /// Every variant's evaluations and the reference statistics once.
  public var evaluationSeconds: Double?
  /// (training + evaluation) seconds on one device, in hours.
  public var deviceHours: Double? { trainingSeconds.flatMap { t in evaluationSeconds.map { (t + $0) / 3600 } } }
  /// Where the rates came from, one line each.
  public var sources: [String]
  /// What could not be estimated, and why.
  public var notEstimated: [String]
}

/// The rates an estimate is computed from.
public struct CostRates {
  /// Seconds per training step, by stage setting, and where each came from.
  public var secondsPerStep: [SpeedSetting: (seconds: Double, source: String)] = [:]
  /// Sampled images per second, by `samplingKey`.
  public var samplingImagesPerSecond: [String: Double] = [:]
  /// Images per second through the Inception network (resize included).
  public var inceptionImagesPerSecond: Double?
  /// Seconds of one final evaluation on record in the study directory (mean), and how many there were.
  public var evaluationOnRecord: (seconds: Double, count: Int)?
  /// Reasons a rate could not be had (by signature or key).
  public var missing: [String: String] = [:]

  public init() {}

  /// The sampling rate's key: what decides sampling speed (network, precision, device, sampler, batch).
  static func samplingKey(_ c: TrainConfig, _ spec: EvaluationProtocol) -> String {
    let n = c.network
    return "\(n.imageSize)px p\(n.patchSize) c\(n.channels) d\(n.embedDim)x\(n.depth) h\(n.numHeads) mlp\(gFormat(n.mlpRatio)), "
      + "\(c.precision) \(c.device), \(spec.sampler.label), batch \(spec.batchSize)"
  }

  /// The rates on record: the calibration (plan and study directory), the study's runs and its evaluations.
  public static func onRecord(_ experiment: Experiment, directory: StudyDirectory) -> CostRates {
    var rates = CostRates()
    // A calibration.json with a rate out of range is refused when the study runs; the estimate leaves it out.
    let calibration = (try? Calibration.recorded(for: experiment.plan, in: directory)) ?? experiment.plan.calibration ?? Calibration()
    for (key, entry) in calibration.entries {
      let source = entry.source == "plan" ? "the plan's calibration (measured on \(entry.machine ?? "an unnamed machine"))"
        : "the calibration in \(directory.calibration.lastPathComponent) (\(entry.machine ?? "this study's machine"))"
      rates.secondsPerStep[key] = (1 / entry.stepsPerSecond, source)
    }
    let times = StepTimes(experiment: experiment, directory: directory)
    for (key, seconds) in times.measuredIn where rates.secondsPerStep[key] == nil {
      rates.secondsPerStep[key] = (seconds, "this study's runs in \(directory.url.lastPathComponent)/runs")
    }
    var evaluations: [Double] = []
    for v in experiment.variants {
      let folder = directory.results.appendingPathComponent(v.slug)
      for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasSuffix(".json") {
        if let r = directory.read(VariantResult.self, at: folder.appendingPathComponent(name)), r.finished, let s = r.evaluationSeconds {
          evaluations.append(s)
        }
      }
    }
    if !evaluations.isEmpty { rates.evaluationOnRecord = (evaluations.reduce(0, +) / Double(evaluations.count), evaluations.count) }
    return rates
  }

  /// Measures, on this machine, every stage setting's step time (`warmupSteps` untimed, `timedSteps`
  /// timed), each evaluation's sampling rate (one batch after one untimed) and the Inception network's
  /// rate (`inceptionImages` images after as many untimed). `progress` names each measurement first.
  public mutating func measure(_ experiment: Experiment, warmupSteps: Int = 3, timedSteps: Int = 10, inceptionImages: Int = 8,
                               progress: (String) -> Void = { _ in }) {
    let gpu = Engine.gpuAvailable
    var measured = Set<SpeedSetting>()
    for stage in experiment.uniqueStages {
      let key = SpeedSetting(stage.config)
      guard measured.insert(key).inserted else { continue }
      if stage.config.device == .gpu, !gpu {
        missing["\(key)"] = "it trains on the GPU (device: gpu) and this machine has none; estimate on the GPU machine, or carry its calibration in the plan"
        continue
      }
      progress("training step of \(key)")
      do {
        // The step alone on random images (median of the timed steps): brief, and needs no data.
        var bench = TrainingBenchmark(config: stage.config)
        (bench.warmup, bench.steps) = (warmupSteps, timedSteps)
        let result = try bench.run()
        secondsPerStep[key] = (result.msPerStep / 1000, "measured now (--estimate: the median of \(timedSteps) steps after \(warmupSteps), on random images)")
      } catch {
        missing["\(key)"] = "measuring it failed: \(error)"
      }
    }
    for v in experiment.variants {
      guard let last = v.stages.last else { continue }
      var specs = [v.evaluation]
      if let along = v.evaluation.alongPoint { specs.append(along) }
      for spec in specs {
        let key = Self.samplingKey(last.config, spec)
        guard samplingImagesPerSecond[key] == nil, missing[key] == nil else { continue }
        if last.config.device == .gpu, !gpu {
          missing[key] = "it samples on the GPU and this machine has none"
          continue
        }
        progress("sampling with \(key)")
        do {
          var bench = SamplingBenchmark(config: last.config, sampler: spec.sampler, batchSize: spec.batchSize)
          bench.batches = 1
          samplingImagesPerSecond[key] = try bench.run().imagesPerSecond
        } catch {
          missing[key] = "measuring it failed: \(error)"
        }
      }
    }
    progress("Inception features of \(inceptionImages) images")
    do {
      let network = try InceptionFeatureExtractor()
      let size = experiment.variants.first?.stages.last?.config.network.imageSize ?? 32
      let pixels = (0..<(inceptionImages * size * size * 3)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
      _ = try network.features(images: pixels, count: inceptionImages, height: size, width: size, channels: 3)
      let start = Date()
      _ = try network.features(images: pixels, count: inceptionImages, height: size, width: size, channels: 3)
      inceptionImagesPerSecond = Double(inceptionImages) / max(Date().timeIntervalSince(start), 1e-9)
    } catch {
      missing["inception"] = "the Inception network could not be measured: \(error)"
    }
  }
}

extension StudyCost {
  /// The cost of `experiment` with `seeds` seeds per variant at `rates`; `directory` tells whether the
  /// reference statistics are cached already.
  public init(_ experiment: Experiment, seeds: Int, rates: CostRates, directory: StudyDirectory) {
    self.seeds = seeds
    var estimator = CostEstimator(experiment: experiment, rates: rates, directory: directory)
    var lines: [Line] = []
    var evaluationTotal: Double? = 0
    // DSM only's continuation for the speed-ups: its stage once more, (factor - 1) times over.
    let continuation = experiment.variants.first { $0.slug == experiment.speedUpReference }.map { estimator.training($0.stages[0]) }
    let extra = Experiment.speedUpReferenceFactor - 1
    for v in experiment.variants {
      var stages = v.stages.map { estimator.training($0) }
      if v.slug == experiment.speedUpReference, let c = continuation {
        stages += Array(repeating: c, count: extra)
      }
      let (steps, t) = (sum(stages.map(\.steps)), sum(stages.map(\.seconds)))
      let e = estimator.evaluation(v)
      lines.append(Line(name: v.name, slug: v.slug, steps: steps.map { $0 * seeds }, trainingSeconds: t.map { $0 * Double(seeds) },
                        evaluationSeconds: e.map { $0 * Double(seeds) }))
      evaluationTotal = evaluationTotal.flatMap { a in e.map { a + $0 * Double(seeds) } }
    }
    let stages = experiment.uniqueStages.map { estimator.training($0) } + (continuation.map { Array(repeating: $0, count: extra) } ?? [])
    totalSteps = sum(stages.map(\.steps)).map { $0 * seeds }
    trainingSeconds = sum(stages.map(\.seconds)).map { $0 * Double(seeds) }
    // The real images' statistics, once per study unless cached (or given as a file).
    let spec = experiment.plan.evaluation
    let cached = !((try? FileManager.default.contentsOfDirectory(atPath: directory.url.appendingPathComponent("reference").path)) ?? []).isEmpty
    if spec.reference.statistics == nil, !cached, let inception = rates.inceptionImagesPerSecond {
      evaluationTotal = evaluationTotal.map { $0 + Double(spec.reference.count) / inception }
    }
    evaluationSeconds = evaluationTotal
    for gap in estimator.evaluationGaps {
      estimator.notEstimated.append("evaluation of " + (gap.names.count == experiment.variants.count ? "every variant" : gap.names.joined(separator: "; ")) + ": \(gap.reason)")
    }
    self.lines = lines
    self.sources = estimator.sources.sorted()
    self.notEstimated = estimator.notEstimated
  }
}

/// A sum of values that are all known (nil when one is not).
private func sum(_ values: [Double?]) -> Double? { values.reduce(Double?.some(0)) { a, b in a.flatMap { x in b.map { x + $0 } } } }
private func sum(_ values: [Int?]) -> Int? { values.reduce(Int?.some(0)) { a, b in a.flatMap { x in b.map { x + $0 } } } }

/// The costs of a study's parts at some rates, with where each rate came from and what could not be estimated.
private struct CostEstimator {
  let experiment: Experiment
  let rates: CostRates
  let directory: StudyDirectory
  var notEstimated: [String] = []
  var evaluationGaps: [(reason: String, names: [String])] = []
  var sources = Set<String>()

  init(experiment: Experiment, rates: CostRates, directory: StudyDirectory) {
    (self.experiment, self.rates, self.directory) = (experiment, rates, directory)
  }

  /// A stage's steps and training seconds: a time budget not calibrated yet trains its seconds (its
  /// steps known from a rate); a step budget takes its steps times the rate.
  mutating func training(_ stage: PlannedStage) -> (steps: Int?, seconds: Double?) {
    let key = SpeedSetting(stage.config)
    let r = rates.secondsPerStep[key]
    if let r { sources.insert("training: \(r.source)") }
    if let budget = stage.config.trainSeconds {
      return (r.map { Int((budget / $0.seconds).rounded()) }, budget)
    }
    guard let r else {
      let why = rates.missing["\(key)"] ?? "no calibration on record has this setting and no run of the study has trained it (--estimate measures it)"
      let line = "training of \(key): \(why)"
      if !notEstimated.contains(line) { notEstimated.append(line) }
      return (stage.config.trainSteps, nil)
    }
    return (stage.config.trainSteps, Double(stage.config.trainSteps) * r.seconds)
  }

  /// Snapshots a stage keeps for the evaluation along training.
  func points(_ stage: PlannedStage) -> Int {
    guard let every = stage.config.snapshotEvery, every > 0 else { return 0 }
    let steps = stage.config.trainSteps
    return steps / every + (steps % every == 0 ? 0 : 1)
  }

  func sampling(_ images: Int, _ config: TrainConfig, _ spec: EvaluationProtocol) -> Double? {
    let key = CostRates.samplingKey(config, spec)
    guard let rate = rates.samplingImagesPerSecond[key], let inception = rates.inceptionImagesPerSecond else { return nil }
    return Double(images) / rate + Double(images) / inception
  }

  /// One seed's evaluations of `v` from the measured rates (nil when one is missing).
  func evaluationFromRates(_ v: Variant) -> Double? {
    guard let last = v.stages.last else { return 0 }
    var total = 0.0
    for stage in v.evaluation.when == .everyStage ? v.stages : [last] {
      guard let s = sampling(v.evaluation.samples, stage.config, v.evaluation) else { return nil }
      total += s
    }
    guard let along = v.evaluation.alongPoint else { return total }
    // The speed-up reference's curve goes on to `speedUpReferenceFactor` times its budget.
    let factor = v.slug == experiment.speedUpReference ? Double(Experiment.speedUpReferenceFactor) : 1
    for stage in v.stages where points(stage) > 0 {
      guard let s = sampling(along.samples, stage.config, along) else { return nil }
      total += factor * Double(points(stage)) * s
    }
    return total
  }

  /// One seed's evaluations of `v`: measured rates first, else the evaluations on record.
  mutating func evaluation(_ v: Variant) -> Double? {
    guard let last = v.stages.last else { return 0 }
    if let total = evaluationFromRates(v) {
      sources.insert("evaluation: sampling and Inception rates measured now (--estimate)")
      return total
    }
    if let record = rates.evaluationOnRecord {
      sources.insert("evaluation: the mean of \(record.count) final evaluation\(record.count == 1 ? "" : "s") on record in \(directory.url.lastPathComponent)"
                       + (v.evaluation.along != nil ? " (the points along training not included)" : ""))
      return record.seconds
    }
    let why = ([rates.missing["inception"]] + [v.evaluation, v.evaluation.alongPoint].compactMap { $0 }
      .map { rates.missing[CostRates.samplingKey(last.config, $0)] }).compactMap { $0 }
    let reason = why.first ?? "no evaluation of this study is on record (--estimate measures sampling and the Inception network)"
    if let i = evaluationGaps.firstIndex(where: { $0.reason == reason }) {
      evaluationGaps[i].names.append(v.name)
    } else {
      evaluationGaps.append((reason, [v.name]))
    }
    return nil
  }
}
