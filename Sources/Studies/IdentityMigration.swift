// Studies made before identities came from the canonical encoding (StageIdentity.swift) name their
// runs, evaluation caches, grids and results by the first encoding: a hash of the stage's
// configuration as YAML and of the evaluation protocol as `String(describing:)`. Opening such a study
// moves everything to the current identities once, so that nothing finished is trained or evaluated
// again; `identities.json` records that the directory is current.
import Foundation
import Training

/// Moves a study directory from the first identity encoding to the current one.
public enum IdentityMigration {
  /// The file that records the encoding a study directory's names follow.
  static let markerName = "identities.json"

  struct Marker: Codable { var version: Int }

  /// Moves the runs, caches, grids and results of `experiment`'s stages that `directory` holds under
  /// their first-encoding names to their current names (every seed up to `maximumSeeds`), then records
  /// the directory as current. Returns the names moved (old → new). A directory already current, or
  /// not there, is left as it is.
  @discardableResult
  public static func migrate(_ experiment: Experiment, in directory: StudyDirectory,
                             maximumSeeds: Int = StudyPlan.repeatsRange.upperBound) throws -> [(String, String)] {
    let fm = FileManager.default
    let marker = directory.url.appendingPathComponent(markerName)
    guard fm.fileExists(atPath: directory.url.path),
          (directory.read(Marker.self, at: marker)?.version ?? 1) < identityEncodingVersion else { return [] }
    let existing = Set((try? fm.contentsOfDirectory(atPath: directory.runs.path)) ?? [])
    let hasResults = fm.fileExists(atPath: directory.results.path)
    // A study that has trained and recorded nothing has no names to move (and gets no marker yet).
    guard !existing.isEmpty || hasResults else { return [] }
    let renames = renameTable(experiment, maximumSeeds: maximumSeeds) { v, dirs in
      dirs.contains(where: existing.contains) || (hasResults && fm.fileExists(atPath: directory.result(v).path))
    }
    var moved: [(String, String)] = []
    for folder in [directory.runs, directory.evaluations, directory.url.appendingPathComponent("grids")] {
      moved += try renameEntries(in: folder, renames)
    }
    try rewriteResults(in: directory, renames)
    try directory.write(Marker(version: identityEncodingVersion), to: marker)
    return moved
  }

  /// Old → new for every name part that changed: run directory names, stage identities, variant keys
  /// and evaluation cache keys, for the variants (each seed) that `recorded` says the study holds,
  /// given the first-encoding names of their run directories (a run, or a result, on record).
  static func renameTable(_ experiment: Experiment, maximumSeeds: Int, recorded: (Variant, [String]) -> Bool) -> [(String, String)] {
    var table: [String: String] = [:]
    for variant in experiment.variants {
      for index in 0..<max(1, maximumSeeds) {
        let v = experiment.seeded(variant, repeat: index)
        let legacy = legacyIdentities(v)
        guard recorded(v, zip(v.stages, legacy).map { "\(fileName($0.name))-\($1)" }) else { continue }
        for (stage, old) in zip(v.stages, legacy) where old != stage.id {
          table["\(fileName(stage.name))-\(old)"] = stage.directoryName
          table[old] = stage.id
        }
        table[legacyVariantKey(legacy, v.evaluation)] = v.key
        table[legacyCacheKey(v.evaluation, along: false)] = v.evaluation.cacheKey
        if let point = v.evaluation.alongPoint { table[legacyCacheKey(point, along: true)] = point.alongCacheKey }
      }
    }
    // Longer names first: a run directory's name before the identity inside it.
    return table.filter { $0.key != $0.value }.sorted { ($0.key.count, $0.key) > ($1.key.count, $1.key) }
  }

  /// `name` with every old part replaced by its new one.
  static func renamed(_ name: String, _ renames: [(String, String)]) -> String {
    renames.reduce(name) { $0.contains($1.0) ? $0.replacingOccurrences(of: $1.0, with: $1.1) : $0 }
  }

  /// Renames the entries of `folder` whose names hold old parts (never over an entry already there).
  static func renameEntries(in folder: URL, _ renames: [(String, String)]) throws -> [(String, String)] {
    guard !renames.isEmpty else { return [] }
    var moved: [(String, String)] = []
    for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
      let new = renamed(name, renames)
      let target = folder.appendingPathComponent(new)
      guard new != name, !FileManager.default.fileExists(atPath: target.path) else { continue }
      // Another process opening the study (a rank, a Slurm job) may move it first.
      do { try FileManager.default.moveItem(at: folder.appendingPathComponent(name), to: target) } catch {
        if !FileManager.default.fileExists(atPath: target.path) { throw error }
      }
      moved.append((name, new))
    }
    return moved
  }

  /// Rewrites the identities, keys and paths inside the recorded results (`results/<slug>/seed-N.json`).
  static func rewriteResults(in directory: StudyDirectory, _ renames: [(String, String)]) throws {
    guard !renames.isEmpty else { return }
    let fm = FileManager.default
    for slug in (try? fm.contentsOfDirectory(atPath: directory.results.path)) ?? [] {
      let folder = directory.results.appendingPathComponent(slug)
      for file in (try? fm.contentsOfDirectory(atPath: folder.path)) ?? [] where file.hasSuffix(".json") {
        let url = folder.appendingPathComponent(file)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
        let new = renamed(text, renames)
        if new != text { try writeAtomically(Data(new.utf8), to: url) }
      }
    }
  }

  // MARK: The first encoding, kept only to find the studies made with it.

  /// The first-encoding identities of `variant`'s stages (each from its configuration's YAML and its parent's).
  static func legacyIdentities(_ variant: Variant) -> [String] {
    var ids: [String: String] = [:]
    return variant.stages.map { stage in
      let parent = stage.parent.map { ids[$0] ?? $0 }
      let id = String(fnv1aHex(stage.name + "\n" + stage.config.yaml() + "\n" + (parent ?? "")).prefix(10))
      ids[stage.id] = id
      return id
    }
  }

  static func legacyVariantKey(_ ids: [String], _ evaluation: EvaluationProtocol) -> String {
    fnv1aHex(ids.joined(separator: "/") + "|" + legacyText(evaluation))
  }

  static func legacyCacheKey(_ spec: EvaluationProtocol, along: Bool) -> String {
    var p = spec
    p.along = nil
    return String(fnv1aHex((along ? "along|" : "") + "v\(metricCodeVersion)|\(legacyText(p))").prefix(10))
  }

  /// The protocol as the first encoding printed it; with the default resize, the text it had before
  /// the resize was a choice.
  static func legacyText(_ evaluation: EvaluationProtocol) -> String {
    let text = "\(evaluation)"
    guard evaluation.fidResize == .ttur, let r = text.range(of: ", fidResize: ", options: .backwards) else { return text }
    return text[..<r.lowerBound] + ")"
  }
}
