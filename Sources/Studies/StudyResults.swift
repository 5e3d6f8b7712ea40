// What a study records: per stage the run's measured times and loss curve, per variant the sums
// over its stages (shared stages count for every variant that uses them) and its evaluation. Each
// variant's result is its own file (`results/<slug>.json`), so a study can resume, run as an array of
// jobs, and be reported at any point.
import Foundation
import Training

/// The measurements of one training stage of a variant.
public struct StageResult: Codable, Equatable, Sendable {
  public var name: String
  public var id: String
  /// The run's summary as Training wrote it (steps, final loss, training, device, first-step and
  /// wall-clock seconds, throughput, peak memory, device, loss curve, provenance), with its run
  /// directory relative to the study directory. Written beside the stage's own keys, as results
  /// have always been.
  public var run: RunSummary
  /// The time budget the steps were calibrated from (`compare: time`).
  public var budgetSeconds: Double?
  public var maskRatio: Double
  /// The evaluation after this stage (`evaluation.when: every_stage`, and the last stage always).
  public var evaluation: EvaluationResult?
  /// The evaluations of the stage's snapshots (`evaluation.along`), in step order.
  public var timeline: [TimelinePoint]? = nil
  /// The speed-up reference's curve beyond its budget: the stage trained on to
  /// `Experiment.speedUpReferenceFactor` times its steps, its later snapshots evaluated (same protocol).
  public var continuation: [TimelinePoint]? = nil

  public init(name: String, id: String, run: RunSummary, budgetSeconds: Double? = nil, maskRatio: Double,
              evaluation: EvaluationResult? = nil, timeline: [TimelinePoint]? = nil, continuation: [TimelinePoint]? = nil) {
    (self.name, self.id, self.run, self.budgetSeconds, self.maskRatio) = (name, id, run, budgetSeconds, maskRatio)
    (self.evaluation, self.timeline, self.continuation) = (evaluation, timeline, continuation)
  }

  enum CodingKeys: String, CodingKey { case name, id, budgetSeconds, maskRatio, evaluation, timeline, continuation }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    (name, id, run) = (try c.decode(String.self, forKey: .name), try c.decode(String.self, forKey: .id), try RunSummary(from: decoder))
    (budgetSeconds, maskRatio) = (try c.decodeIfPresent(Double.self, forKey: .budgetSeconds), try c.decode(Double.self, forKey: .maskRatio))
    evaluation = try c.decodeIfPresent(EvaluationResult.self, forKey: .evaluation)
    (timeline, continuation) = (try c.decodeIfPresent([TimelinePoint].self, forKey: .timeline), try c.decodeIfPresent([TimelinePoint].self, forKey: .continuation))
  }

  public func encode(to encoder: Encoder) throws {
    try run.encode(to: encoder)
    var c = encoder.container(keyedBy: CodingKeys.self)
    try (c.encode(name, forKey: .name), c.encode(id, forKey: .id), c.encodeIfPresent(budgetSeconds, forKey: .budgetSeconds))
    try (c.encode(maskRatio, forKey: .maskRatio), c.encodeIfPresent(evaluation, forKey: .evaluation))
    try (c.encodeIfPresent(timeline, forKey: .timeline), c.encodeIfPresent(continuation, forKey: .continuation))
  }
}

/// The outcome of one variant: `finished` with its numbers, or `failed` with the error.
public struct VariantResult: Codable, Equatable, Sendable {
  public var name: String
  public var slug: String
  public var studies: [String]
  public var status: String
  public var error: String?
  public var key: String
  /// The training seed of this repeat (every stage's `seed`).
  public var seed: UInt64?
  public var fid: Double?
  /// FID ∓ 1.96 bootstrap standard errors over the generated samples (the evaluation's own noise).
  public var fidBootstrapLow: Double?
  public var fidBootstrapHigh: Double?
  public var fidSamples: Int?
  public var referenceSamples: Int?
  public var kidMean: Double?
  public var kidStd: Double?
  /// Improved precision and recall (k = 3) of the final evaluation.
  public var precision: Double?
  public var recall: Double?
  /// FID along training, the stages in sequence (`evaluation.along`).
  public var curve: [CurvePoint]?
  /// The curve with the speed-up reference's continuation beyond its budget (the reference only).
  public var referenceCurve: [CurvePoint]? = nil
  /// Training-step seconds summed over the stages.
  public var trainingSeconds: Double
  public var deviceSeconds: Double
  /// First-step (compilation) seconds summed over the stages, not in trainingSeconds.
  public var warmupSeconds: Double
  public var wallSeconds: Double
  public var imagesPerSecond: Double
  public var peakMemoryBytes: Int
  public var evaluationSeconds: Double?
  public var sampler: String?
  public var grid: String?
  public var stages: [StageResult]
  /// Each stage's resolved configuration (YAML), by stage name.
  public var settings: [String: String]

  public var finished: Bool { status == "finished" }

  /// A failed variant with its error and the stages that did finish.
  static func failed(_ variant: Variant, error: String, stages: [StageResult]) -> VariantResult {
    var r = VariantResult(variant: variant, stages: stages)
    r.status = "failed"
    r.error = error
    return r
  }

  /// A finished variant: sums over `stages`, FID from the last stage's evaluation.
  init(variant: Variant, stages: [StageResult]) {
    name = variant.name
    slug = variant.slug
    studies = variant.studies
    status = "finished"
    key = variant.key
    seed = variant.seed
    let images = stages.reduce(0) { $0 + $1.run.imagesPerSecond * $1.run.trainSeconds }
    trainingSeconds = stages.reduce(0) { $0 + $1.run.trainSeconds }
    deviceSeconds = stages.reduce(0) { $0 + $1.run.deviceSeconds }
    warmupSeconds = stages.reduce(0) { $0 + ($1.run.warmupSeconds ?? 0) }
    wallSeconds = stages.reduce(0) { $0 + $1.run.wallSeconds }
    imagesPerSecond = trainingSeconds > 0 ? images / trainingSeconds : 0
    peakMemoryBytes = stages.map(\.run.peakMemoryBytes).max() ?? 0
    let e = stages.last?.evaluation
    fid = e?.fid
    fidBootstrapLow = e?.fidBootstrapLow
    fidBootstrapHigh = e?.fidBootstrapHigh
    fidSamples = e?.samples
    referenceSamples = e?.referenceSamples
    kidMean = e?.kidMean
    kidStd = e?.kidStd
    precision = e?.precision
    recall = e?.recall
    let points = timelineCurve(of: stages)
    curve = points.isEmpty ? nil : points
    let continued = timelineCurve(of: stages, continued: true)
    referenceCurve = continued.count > points.count ? continued : nil
    evaluationSeconds = e.map { _ in stages.compactMap(\.evaluation?.seconds).reduce(0, +) }
    sampler = e?.sampler
    grid = e?.grid
    self.stages = stages
    settings = Dictionary(variant.stages.map { ($0.name, $0.config.yaml()) }, uniquingKeysWith: { a, _ in a })
  }
}

/// JSON as the study writes it: snake_case keys, sorted, readable.
let resultsEncoder: JSONEncoder = {
  let e = JSONEncoder()
  e.keyEncodingStrategy = .convertToSnakeCase
  e.outputFormatting = [.prettyPrinted, .sortedKeys]
  e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
  return e
}()

let resultsDecoder: JSONDecoder = {
  let d = JSONDecoder()
  d.keyDecodingStrategy = .convertFromSnakeCase
  d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
  return d
}()

/// The files of a study directory.
public struct StudyDirectory {
  public let url: URL
  public init(_ url: URL) { self.url = url.standardizedFileURL }

  public var runs: URL { url.appendingPathComponent("runs") }
  public var results: URL { url.appendingPathComponent("results") }
  public var evaluations: URL { url.appendingPathComponent("evaluations") }
  public var report: URL { url.appendingPathComponent("report.md") }
  public var html: URL { url.appendingPathComponent("report.html") }
  public var resultsJSON: URL { url.appendingPathComponent("results.json") }
  public var resultsCSV: URL { url.appendingPathComponent("results.csv") }
  /// The step rates of the study's time budgets (see `Calibration`).
  public var calibration: URL { url.appendingPathComponent("calibration.json") }

  /// What every study directory holds once the tool has written to it (one of them at least).
  static let markers: Set<String> = ["plan.resolved.yaml", "results", "runs", "evaluations", "calibration.json", "slurm.sh", "slurm",
                                     IdentityMigration.markerName]

  /// Refuses a folder that holds files and is not a study directory (`study report --out DIR` would
  /// replace a user's report.md or results.json).
  public func checkOwnership() throws {
    do { try OutputTarget.checkDirectory(url, flag: "--out", kind: "study directory", markers: Self.markers) } catch let e as ConfigError {
      throw StudyError(e.message)
    }
  }

  func run(_ stage: PlannedStage) -> URL { runs.appendingPathComponent(stage.directoryName) }
  /// The result of one repeat of a variant: `results/<slug>/seed-<seed>.json`.
  func result(_ variant: Variant) -> URL {
    results.appendingPathComponent(variant.slug).appendingPathComponent("seed-\(variant.seed).json")
  }
  /// The folder whose lock a process holds while it trains and evaluates one seed of a variant.
  func active(_ variant: Variant) -> URL {
    url.appendingPathComponent("active").appendingPathComponent("\(variant.slug)-seed-\(variant.seed)")
  }
  func evaluation(stage: PlannedStage, key: String) -> URL {
    evaluations.appendingPathComponent("\(stage.directoryName)-\(key).json")
  }

  /// Reads a JSON file written by the study; nil when absent or unreadable (then it is recomputed).
  func read<T: Decodable>(_ type: T.Type, at url: URL) -> T? {
    guard let data = try? Data(contentsOf: url) else { return nil }
    return try? resultsDecoder.decode(type, from: data)
  }

  func write<T: Encodable>(_ value: T, to url: URL) throws {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try writeAtomically(try resultsEncoder.encode(value), to: url)
  }

  /// The recorded result of each repeat of each variant of `experiment` (variant order, then seed order).
  public func recordedResults(_ experiment: Experiment, repeats: Int) -> [VariantResult] { recorded(experiment, repeats: repeats).results }

  /// The recorded results, and the files that were there but damaged (`readResult`), left out.
  public func recorded(_ experiment: Experiment, repeats: Int) -> (results: [VariantResult], damaged: [DamagedResult]) {
    var results: [VariantResult] = [], damaged: [DamagedResult] = []
    for variant in experiment.variants {
      for i in 0..<max(1, repeats) {
        let v = experiment.seeded(variant, repeat: i)
        do {
          if let r = try readResult(at: result(v)), r.key == v.key { results.append(r) }
        } catch let d as DamagedResult {
          damaged.append(d)
        } catch {
          damaged.append(DamagedResult(file: result(v), reason: "\(error)"))
        }
      }
    }
    return (results, damaged)
  }
}
