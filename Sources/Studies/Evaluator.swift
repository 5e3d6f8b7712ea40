// Measuring a trained stage: sample with its EMA weights, pass the samples through the TF-FID
// Inception network, compare with the reference statistics of real images (FID, and KID from the
// reference features), and keep a grid of samples for people to look at. The reference is a seeded
// random subset of the split (not its first images, which may be ordered by class or source); beside
// it, held-out real images of the same split give each sample count its floor: the FID and KID of real
// images against the same reference, the part of a number that is the metric's own bias. Reference
// statistics and floors are computed once per study and cached in its `reference/` folder, keyed by
// the dataset's content, the subset and the metric code's version.
import Datasets
import Engine
import Evaluation
import Foundation
import MaskDM
import Training

/// The measured quality of one trained stage.
public struct EvaluationResult: Codable, Equatable, Sendable {
  public var fid: Double
  /// FID ∓ 1.96 bootstrap standard errors over resamples of the generated samples (evaluation noise).
  public var fidBootstrapLow: Double?
  public var fidBootstrapHigh: Double?
  public var kidMean: Double?
  public var kidStd: Double?
  /// Generated images in the FID.
  public var samples: Int
  /// Real images in the reference statistics.
  public var referenceSamples: Int
  /// How the samples were drawn, e.g. "DDIM 25 steps, eta 0, EMA weights".
  public var sampler: String
  /// Seconds spent sampling, extracting features and computing the metrics.
  public var seconds: Double
  /// Where those seconds went (nil in results written before it was recorded).
  public var time: EvaluationSeconds? = nil
  public var samplesPerSecond: Double
  /// The sample grid, relative to the study directory.
  public var grid: String?
  /// Improved precision and recall (k = 3) against the reference features (nil without them).
  public var precision: Double? = nil
  public var recall: Double? = nil
  /// The same metrics for held-out real images in place of the samples (nil with a statistics file).
  public var floor: MetricFloor? = nil
  /// SHA-256 of the weights file measured: the cached result is reused only for these weights (nil in
  /// results written before it was recorded, which are reused as they are).
  public var weights: String? = nil
}

/// The parts of an evaluation's time: what a study spends outside its training steps.
public struct EvaluationSeconds: Codable, Equatable, Sendable {
  /// Running the sampler (the network's evaluations).
  public var sampling: Double
  /// The Inception network on the samples (resize included), and the grid.
  public var features: Double
  /// FID, its bootstrap, the floor, KID and precision/recall from the features.
  public var statistics: Double
}

/// FID and KID of `samples` held-out real images against the reference: what a perfect model would score.
public struct MetricFloor: Codable, Equatable, Sendable {
  public var samples: Int
  public var fid: Double
  public var kid: Double?
}

/// The version of the metric code (FID, KID, precision/recall, the reference's selection): part of every
/// evaluation and reference cache key, and raised whenever a change alters their numbers, so that a
/// finished study re-evaluates (and keeps its training) after a fix.
/// 2: references are a seeded random subset; floors; KID as the default primary metric.
public let metricCodeVersion = 2

/// Real-image statistics (and features, for KID) of one reference set, and the held-out images that
/// give the floors.
struct ReferenceSet {
  var statistics: FeatureStatistics
  var features: [Float]?
  /// Real images of the split outside the reference, in a seeded random order (nil: none left).
  var heldOut: (data: PackedDataset, indices: [Int])? = nil
  /// Cache key of this reference (for its floors).
  var key: String = ""
}

/// The indices 0..<count in a random order fixed by `seed` (Fisher-Yates with SplitMix64).
func seededPermutation(_ count: Int, seed: UInt64) -> [Int] {
  var state = seed &+ 0x9E37_79B9_7F4A_7C15
  func next() -> UInt64 {
    state = state &+ 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  var out = Array(0..<count)
  for i in stride(from: count - 1, to: 0, by: -1) { out.swapAt(i, Int(next() % UInt64(i + 1))) }
  return out
}

/// Evaluates stages of one study; loads the Inception network once.
final class Evaluator {
  let studyDirectory: URL
  private var extractorStorage: [FIDResize: InceptionFeatureExtractor] = [:]
  private var references: [String: ReferenceSet] = [:]

  /// Resamples behind each FID's bootstrap interval.
  static let bootstrapRounds = 100

  init(studyDirectory: URL) { self.studyDirectory = studyDirectory }

  private func extractor(_ resize: FIDResize) throws -> InceptionFeatureExtractor {
    if let e = extractorStorage[resize] { return e }
    let e = try InceptionFeatureExtractor()
    e.resizeMode = resize
    extractorStorage[resize] = e
    return e
  }

  /// The reference set for a variant whose last stage trains with `config`.
  func reference(for config: TrainConfig, _ spec: ReferenceSpec, resize: FIDResize = .ttur,
                 progress: @escaping (Int, Int, Double) -> Void) throws -> ReferenceSet {
    if let path = spec.statistics {
      let statistics = try FeatureStatistics.load(npz: URL(fileURLWithPath: path))
      if let r = statistics.resize, r != resize {
        throw PlanError("evaluation.reference.statistics \(path) was taken with the resize \(r.label), the plan's evaluation.fid_resize is \(resize.label)")
      }
      return ReferenceSet(statistics: statistics, features: nil)
    }
    var c = config
    c.dataset.split = spec.split
    c.dataset.fraction = 1
    let data = try resolveDataset(c)
    let count = min(spec.count, data.count)
    let m = data.manifest
    let key = String(fnv1aHex("v\(metricCodeVersion)|\(m.checksum)|\(m.count)|\(m.height)x\(m.width)x\(m.channels)|\(count)|\(spec.seed)" + (resize == .ttur ? "" : "|\(resize.rawValue)")).prefix(12))
    if let cached = references[key] { return cached }
    let order = seededPermutation(data.count, seed: spec.seed)
    let chosen = Array(order.prefix(count)), rest = Array(order.dropFirst(count))
    let heldOut = rest.isEmpty ? nil : (data: data, indices: rest)
    let folder = studyDirectory.appendingPathComponent("reference")
    let statsURL = folder.appendingPathComponent("\(key).npz"), featuresURL = folder.appendingPathComponent("\(key).f32")
    if let stats = try? FeatureStatistics.load(npz: statsURL), let raw = try? Data(contentsOf: featuresURL),
       raw.count == count * InceptionFeatureExtractor.dimension * 4 {
      let set = ReferenceSet(statistics: stats, features: raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) },
                             heldOut: heldOut, key: key)
      references[key] = set
      return set
    }
    let (features, n) = try inceptionFeatures(.preparedSubset(data, indices: chosen), extractor: try extractor(resize), progress: progress)
    var statistics = FeatureStatistics(features: features, count: n)
    statistics.resize = resize
    let set = ReferenceSet(statistics: statistics, features: features, heldOut: heldOut, key: key)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try writeAtomically(features.withUnsafeBytes { Data($0) }, to: featuresURL)
    try set.statistics.save(npz: statsURL)
    references[key] = set
    return set
  }

  /// Samples `spec.samples` images with `job`'s weights and measures them against `reference`: FID
  /// (with a bootstrap interval when `bootstrap`), KID and precision/recall when the reference has
  /// features, and a grid named `gridName` when the protocol asks for one.
  func evaluate(_ job: SamplingJob, spec: EvaluationProtocol, reference: ReferenceSet, gridName: String?, bootstrap: Bool = true,
                progress: @escaping (Int, Int) -> Void) throws -> EvaluationResult {
    let started = Date()
    var job = job
    job.count = spec.samples
    job.batchSize = spec.batchSize
    job.seed = spec.seed
    job.sampler = spec.sampler
    let network = try extractor(spec.fidResize)
    var features: [Float] = []
    var grid: String?
    var featureSeconds = 0.0
    try job.run(consume: { images, first in
      try eval(images)  // the sampler's last steps are lazy: finish them before timing the features
      let featuresStarted = Date()
      defer { featureSeconds += Date().timeIntervalSince(featuresStarted) }
      let (pixels, n, h, w, c) = try imageBytes(images)
      features += try network.features(images: pixels, count: n, height: h, width: w, channels: c)
      if first == 0, spec.grid > 0, let gridName {
        let relative = "grids/\(gridName).png"
        try FileManager.default.createDirectory(at: studyDirectory.appendingPathComponent("grids"), withIntermediateDirectories: true)
        try writeGrid(try images.slice(axis: 0, 0..<min(spec.grid, n)), to: studyDirectory.appendingPathComponent(relative),
                      scale: Self.gridScale(imageSize: h))
        grid = relative
      }
    }, progress: progress)
    let sampled = Date()
    let statistics = FeatureStatistics(features: features, count: spec.samples)
    let fid = try frechetDistance(statistics, reference.statistics)
    var result = EvaluationResult(
      fid: fid, fidBootstrapLow: nil, fidBootstrapHigh: nil, kidMean: nil, kidStd: nil, samples: spec.samples,
      referenceSamples: reference.statistics.count, sampler: "\(spec.sampler.label), EMA weights",
      seconds: 0, samplesPerSecond: 0, grid: grid)
    if bootstrap {
      let error = try bootstrapFIDStandardError(features, count: spec.samples, reference: reference.statistics,
                                                rounds: Self.bootstrapRounds, seed: spec.seed)
      (result.fidBootstrapLow, result.fidBootstrapHigh) = (fid - 1.96 * error, fid + 1.96 * error)
    }
    result.floor = try floor(reference, samples: spec.samples, kid: spec.kid)
    if let real = reference.features {
      if spec.kid {
        let k = kernelInceptionDistance(features, real)
        (result.kidMean, result.kidStd) = (k.mean, k.std)
      }
      if spec.precisionRecall {
        let pr = try precisionRecall(real: real, fake: features, dimension: InceptionFeatureExtractor.dimension,
                                     k: Self.precisionRecallNeighbours)
        (result.precision, result.recall) = (pr.precision, pr.recall)
      }
    }
    result.seconds = Date().timeIntervalSince(started)
    result.time = EvaluationSeconds(sampling: sampled.timeIntervalSince(started) - featureSeconds, features: featureSeconds,
                                 statistics: Date().timeIntervalSince(sampled))
    result.samplesPerSecond = Double(spec.samples) / max(result.seconds, 1e-9)
    return result
  }

  /// The nearest-neighbour factor of a study's grids: each sample at least 96 pixels wide (3x for 32).
  static func gridScale(imageSize: Int) -> Int { max(1, (96 + imageSize - 1) / max(imageSize, 1)) }

  /// The FID and KID of `samples` held-out real images against `reference` (computed once per reference
  /// and count, cached beside the reference); nil when the split has no images outside the reference.
  func floor(_ reference: ReferenceSet, samples: Int, kid: Bool) throws -> MetricFloor? {
    guard let heldOut = reference.heldOut, reference.features != nil else { return nil }
    let n = min(samples, heldOut.indices.count)
    guard n >= 2 else { return nil }
    let url = studyDirectory.appendingPathComponent("reference/\(reference.key)-floor-\(n)\(kid ? "" : "-nokid").json")
    if let data = try? Data(contentsOf: url), let done = try? JSONDecoder().decode(MetricFloor.self, from: data) { return done }
    let (features, count) = try inceptionFeatures(.preparedSubset(heldOut.data, indices: Array(heldOut.indices.prefix(n))), extractor: try extractor(reference.statistics.resize ?? .ttur))
    let fid = try frechetDistance(FeatureStatistics(features: features, count: count), reference.statistics)
    let k = kid ? reference.features.map { kernelInceptionDistance(features, $0).mean } : nil
    let floor = MetricFloor(samples: count, fid: fid, kid: k)
    try writeAtomically(try JSONEncoder().encode(floor), to: url)
    return floor
  }

  /// The k of precision/recall's nearest-neighbour balls (Kynkäänniemi et al.'s default).
  static let precisionRecallNeighbours = 3
}
