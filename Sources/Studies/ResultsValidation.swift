// Results files are checked when read: a hand-edited or truncated `results/<slug>/seed-N.json` is
// named as damaged (and `study report` fails) instead of showing as "not run" or printing `nan` or
// -1e308 as a result. A file that does not decode, a number that is not finite or out of its range,
// a count below what a study writes, and a path that leaves the study directory are all damage.
import Foundation

/// A results file that does not hold what a study writes.
public struct DamagedResult: Error, CustomStringConvertible, Equatable {
  public let file: URL
  public let reason: String
  public var description: String { "\(file.path) is damaged: \(reason)" }
}

/// The problems of one recorded value (empty: none), each naming its field.
struct ResultChecks {
  var problems: [String] = []
  let study: URL

  mutating func number(_ v: Double?, _ field: String, _ range: ClosedRange<Double> = -1e12...1e12) {
    guard let v else { return }
    if !v.isFinite || !range.contains(v) {
      problems.append("\(field) is \(v), outside \(format(range.lowerBound))…\(format(range.upperBound))")
    }
  }
  mutating func count(_ v: Int?, _ field: String, atLeast low: Int = 0) {
    guard let v else { return }
    if v < low { problems.append("\(field) is \(v), below \(low)") }
  }
  mutating func path(_ p: String?, _ field: String) {
    guard let p else { return }
    if (try? resolveInside(study, p, what: field)) == nil { problems.append("\(field) \(p.debugDescription) is not a path inside the study") }
  }
  /// A SHA-256 as the study writes it: 64 lowercase hexadecimal digits.
  mutating func checksum(_ c: String?, _ field: String) {
    guard let c else { return }
    if c.count != 64 || !c.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) { problems.append("\(field) \(c.debugDescription) is not a SHA-256") }
  }
  private func format(_ v: Double) -> String { abs(v) >= 1e6 ? gFormat(v) : "\(v)" }

  /// FID: a distance (a rounding error below 0 is allowed); a share: 0 to 1; seconds: not negative.
  static let fid = -1e-3...1e7, share = 0.0...1.0, seconds = 0.0...1e10, kid = -1e3...1e3

  mutating func evaluation(_ e: EvaluationResult?, _ at: String) {
    guard let e else { return }
    number(e.fid, "\(at).fid", Self.fid)
    number(e.fidBootstrapLow, "\(at).fid_bootstrap_low", Self.fid)
    number(e.fidBootstrapHigh, "\(at).fid_bootstrap_high", Self.fid)
    number(e.kidMean, "\(at).kid_mean", Self.kid)
    number(e.kidStd, "\(at).kid_std", 0...1e3)
    number(e.precision, "\(at).precision", Self.share)
    number(e.recall, "\(at).recall", Self.share)
    number(e.seconds, "\(at).seconds", Self.seconds)
    number(e.samplesPerSecond, "\(at).samples_per_second", 0...1e12)
    time(e.time, "\(at).time")
    count(e.samples, "\(at).samples", atLeast: 2)
    count(e.referenceSamples, "\(at).reference_samples", atLeast: 2)
    path(e.grid, "\(at).grid")
    checksum(e.weights, "\(at).weights")
  }

  mutating func time(_ t: EvaluationSeconds?, _ at: String) {
    guard let t else { return }
    number(t.sampling, "\(at).sampling", Self.seconds)
    number(t.features, "\(at).features", Self.seconds)
    number(t.statistics, "\(at).statistics", Self.seconds)
  }

  mutating func point(_ p: TimelinePoint, _ at: String) {
    count(p.step, "\(at).step")
    number(p.fid, "\(at).fid", Self.fid)
    number(p.kidMean, "\(at).kid_mean", Self.kid)
    number(p.precision, "\(at).precision", Self.share)
    number(p.recall, "\(at).recall", Self.share)
    count(p.samples, "\(at).samples", atLeast: 2)
    time(p.time, "\(at).time")
    checksum(p.weights, "\(at).weights")
  }

  mutating func variant(_ r: VariantResult) {
    for (field, text) in [("name", r.name), ("slug", r.slug)] + r.studies.map { ("studies", $0) }
    where text.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) {
      problems.append("\(field) \(text.debugDescription) holds a control character")
    }
    if !["finished", "failed"].contains(r.status) { problems.append("status is \(r.status.debugDescription), not finished or failed") }
    if r.finished {
      if r.stages.isEmpty { problems.append("a finished result has no stages") }
      if r.fid == nil { problems.append("a finished result has no fid") }
    }
    number(r.fid, "fid", Self.fid)
    number(r.fidBootstrapLow, "fid_bootstrap_low", Self.fid)
    number(r.fidBootstrapHigh, "fid_bootstrap_high", Self.fid)
    count(r.fidSamples, "fid_samples", atLeast: 2)
    count(r.referenceSamples, "reference_samples", atLeast: 2)
    number(r.kidMean, "kid_mean", Self.kid)
    number(r.kidStd, "kid_std", 0...1e3)
    number(r.precision, "precision", Self.share)
    number(r.recall, "recall", Self.share)
    for (field, v) in [("training_seconds", r.trainingSeconds), ("device_seconds", r.deviceSeconds),
                       ("warmup_seconds", r.warmupSeconds), ("wall_seconds", r.wallSeconds)] {
      number(v, field, Self.seconds)
    }
    number(r.evaluationSeconds, "evaluation_seconds", Self.seconds)
    number(r.imagesPerSecond, "images_per_second", 0...1e12)
    count(r.peakMemoryBytes, "peak_memory_bytes")
    path(r.grid, "grid")
    for (i, p) in (r.curve ?? []).enumerated() {
      count(p.step, "curve[\(i)].step")
      number(p.trainingSeconds, "curve[\(i)].training_seconds", Self.seconds)
      number(p.measuredSeconds, "curve[\(i)].measured_seconds", Self.seconds)
      number(p.fid, "curve[\(i)].fid", Self.fid)
    }
    for (i, s) in r.stages.enumerated() {
      let at = "stages[\(i)]"
      count(s.run.steps, "\(at).steps")
      number(s.run.finalLoss, "\(at).final_loss")
      number(s.budgetSeconds, "\(at).budget_seconds", Self.seconds)
      for (field, v) in [("train_seconds", s.run.trainSeconds), ("device_seconds", s.run.deviceSeconds), ("wall_seconds", s.run.wallSeconds)] {
        number(v, "\(at).\(field)", Self.seconds)
      }
      number(s.run.warmupSeconds, "\(at).warmup_seconds", Self.seconds)
      number(s.run.imagesPerSecond, "\(at).images_per_second", 0...1e12)
      count(s.run.peakMemoryBytes, "\(at).peak_memory_bytes")
      number(s.maskRatio, "\(at).mask_ratio", Self.share)
      path(s.run.runDirectory, "\(at).run_directory")
      for (j, p) in s.run.lossCurve.enumerated() where p.count != 2 || !p.allSatisfy(\.isFinite) {
        problems.append("\(at).loss_curve[\(j)] is \(p), not a finite (step, loss) pair")
      }
      evaluation(s.evaluation, "\(at).evaluation")
      for (j, p) in (s.timeline ?? []).enumerated() { point(p, "\(at).timeline[\(j)]") }
    }
  }
}

extension StudyDirectory {
  /// The result at `url`: nil when there is none, the result when it is whole, else `DamagedResult`.
  public func readResult(at url: URL) throws -> VariantResult? {
    guard FileManager.default.fileExists(atPath: url.path) else { return nil }
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw DamagedResult(file: url, reason: "it cannot be read (\(error.localizedDescription))") }
    let result: VariantResult
    do { result = try resultsDecoder.decode(VariantResult.self, from: data) } catch {
      throw DamagedResult(file: url, reason: "it is not a result this tool writes (\(describeDecoding(error)))")
    }
    var checks = ResultChecks(study: self.url)
    checks.variant(result)
    if !checks.problems.isEmpty {
      throw DamagedResult(file: url, reason: checks.problems.prefix(3).joined(separator: "; ") + (checks.problems.count > 3 ? "; …" : ""))
    }
    return result
  }

  /// A cached evaluation or point that fails the same checks is not used (it is measured again).
  func isWhole(_ e: EvaluationResult) -> Bool {
    var checks = ResultChecks(study: url)
    checks.evaluation(e, "evaluation")
    return checks.problems.isEmpty
  }

  func isWhole(_ p: TimelinePoint) -> Bool {
    var checks = ResultChecks(study: url)
    checks.point(p, "point")
    return checks.problems.isEmpty
  }
}

/// A decoding error in a few words: the key path and what was wrong.
func describeDecoding(_ error: Error) -> String {
  guard let e = error as? DecodingError else { return "\(error)" }
  func path(_ c: DecodingError.Context) -> String {
    let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    return p.isEmpty ? "" : " at \(p)"
  }
  switch e {
  case let .dataCorrupted(c): return "not valid JSON\(path(c))"
  case let .keyNotFound(k, c): return "\(k.stringValue) is missing\(path(c))"
  case let .typeMismatch(_, c), let .valueNotFound(_, c): return "a value of the wrong kind\(path(c))"
  @unknown default: return "\(e)"
  }
}
