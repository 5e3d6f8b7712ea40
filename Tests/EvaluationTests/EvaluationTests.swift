import Datasets
import Engine
@testable import Evaluation
@testable import TorchFormats
import Foundation
import XCTest

/// The golden Inception cases: `inception_*.safetensors` in Tests/Fixtures/golden and $MASKDM_GOLDEN_DIR.
func inceptionGoldenFiles() -> [URL] { goldenFiles(prefix: "inception_") }

/// Every `<prefix>*.safetensors` in Tests/Fixtures/golden and in $MASKDM_GOLDEN_DIR.
func goldenFiles(prefix: String) -> [URL] {
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  var dirs = [root.appendingPathComponent("Tests/Fixtures/golden")]
  if let extra = ProcessInfo.processInfo.environment["MASKDM_GOLDEN_DIR"], !extra.isEmpty { dirs.append(URL(fileURLWithPath: extra)) }
  return dirs.flatMap { dir in
    ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
      .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".safetensors") }.map { dir.appendingPathComponent($0) }
  }
}

/// What disagrees with a golden case: resized image 0 (max abs ≤ 1e-4, in [0, 1]), features per image
/// (max abs / max |reference| ≤ 1e-4), mu (same, float64 statistics of our features).
func inceptionFailures(resized: [Float], features: [Float], mu: [Double], golden: [String: Tensor])
  throws -> (failures: [String], measured: String)
{
  var failures: [String] = []
  var worstFeature = 0.0
  let r0 = try golden["out.resized0"]!.floats()
  let rErr = zip(resized, r0).map { Double(abs($0 - $1)) }.max() ?? .infinity
  if rErr > 1e-4 || resized.count != r0.count { failures.append("out.resized0: max abs error \(rErr)") }
  let ref = try golden["out.features"]!.floats()
  let d = 2048
  for i in 0..<(ref.count / d) {
    let a = features[(i * d)..<((i + 1) * d)], b = ref[(i * d)..<((i + 1) * d)]
    let e = Double(zip(a, b).map { abs($0 - $1) }.max()!) / Double(b.map { abs($0) }.max()!)
    if e > 1e-4 { failures.append("out.features[\(i)]: relative error \(e)") }
    worstFeature = max(worstFeature, e)
  }
  let refMu = try golden["out.mu"]!.doubles()
  let muErr = zip(mu, refMu).map { abs($0 - $1) }.max()! / refMu.map { abs($0) }.max()!
  if muErr > 1e-4 { failures.append("out.mu: relative error \(muErr)") }
  return (failures, String(format: "out.resized0 %.2e, out.features %.2e, out.mu %.2e", rErr, worstFeature, muErr))
}

final class InceptionGoldenTests: XCTestCase {
  static let extractor = Result { try InceptionFeatureExtractor() }
  /// The network as one compiled graph, as it runs on the GPU (here on the CPU).
  static let compiledExtractor = Result { () throws -> InceptionFeatureExtractor in
    let extractor = try InceptionFeatureExtractor()
    extractor.compiledForward = true
    return extractor
  }

  func run(_ url: URL, compiled: Bool = false) throws -> (resized: [Float], features: [Float], mu: [Double], golden: [String: Tensor]) {
    let extractor = try (compiled ? Self.compiledExtractor : Self.extractor).get()
    return try Engine.run {
      let golden = try SafetensorsFile.load(url).tensors
      let images = golden["in.images"]!
      let s = images.shape
      let features = try extractor.features(images: try images.toArray(UInt8.self), count: s[0], height: s[1], width: s[2], channels: s[3])
      let resized = try (InceptionFeatureExtractor.resize(images).slice(axis: 0, 0..<1).transposed([0, 3, 1, 2]) / 255).floats()
      let mu = FeatureStatistics(features: features, count: s[0]).mu
      return (resized, features, mu, golden)
    }
  }

  func testEveryGoldenFile() throws {
    try checkEveryGoldenFile(compiled: false)
  }

  /// The compiled graph the GPU runs (fused bias + ReLU, fused pooling slices) against the same files.
  func testEveryGoldenFileCompiled() throws {
    try checkEveryGoldenFile(compiled: true)
  }

  /// Uncompiled, on every CPU code path of our kernels this machine can run (the convolutions' product
  /// is ours on the AVX paths, OpenBLAS on the generic one); compiled, on the default path.
  func checkEveryGoldenFile(compiled: Bool) throws {
    let files = inceptionGoldenFiles()
    XCTAssertFalse(files.isEmpty, "no inception_*.safetensors golden files found")
    let check = { (path: String) throws in
      for url in files {
        let r = try self.run(url, compiled: compiled)
        let (failures, measured) = try inceptionFailures(resized: r.resized, features: r.features, mu: r.mu, golden: r.golden)
        let label = "\(url.path)\(compiled ? " (compiled)" : "") (\(path))"
        print("golden \(label): \(failures.isEmpty ? "matches" : failures.joined(separator: "; ")) (\(measured))")
        XCTAssertTrue(failures.isEmpty, "\(label): \(failures.joined(separator: "; "))")
      }
    }
    if compiled { try check(Engine.cpuPath) } else { try Engine.forEachCPUPath(check) }
  }

  /// The CPU runs a batch in passes of `cpuPassSize` images: passes of 3 over 7 images (two whole and
  /// one partial) give each image the features one pass over all 7 gives it.
  func testPassesGiveTheFeaturesOfOnePass() throws {
    guard let url = inceptionGoldenFiles().first else { return XCTFail("no golden files") }
    let extractor = try InceptionFeatureExtractor()
    let (pixels, shape) = try Engine.run { () throws -> ([UInt8], [Int]) in
      let images = try SafetensorsFile.load(url).tensors["in.images"]!
      return (try images.toArray(UInt8.self), images.shape)
    }
    let perImage = shape[1] * shape[2] * shape[3]
    // Seven different images (a golden image brightened by a different amount each), so that a pass
    // that read another image's bytes would show.
    let seven = (0..<7).flatMap { i in
      pixels[(i % shape[0]) * perImage ..< (i % shape[0] + 1) * perImage].map { UInt8(min(255, Int($0) + 20 * i)) }
    }
    func features(passOf size: Int) throws -> [Double] {
      extractor.cpuPassSize = size
      return try extractor.features(images: seven, count: 7, height: shape[1], width: shape[2], channels: shape[3]).map(Double.init)
    }
    let whole = try features(passOf: 7), parts = try features(passOf: 3)
    XCTAssertEqual(parts.count, 7 * InceptionFeatureExtractor.dimension)
    let worst = zip(parts, whole).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? .infinity
    XCTAssertLessThan(worst, 1e-5, "passes of 3 against one pass of 7")
  }

  func testAPerturbedGoldenValueIsDetected() throws {
    guard let url = inceptionGoldenFiles().first else { return XCTFail("no golden files") }
    let r = try run(url)
    try Engine.run {
      for key in ["out.resized0", "out.features", "out.mu"] {
        var golden = r.golden
        let t = golden[key]!
        var v = try t.doubles()
        v[v.count / 3] += 0.01 * (v.map { abs($0) }.max()! + 1)
        golden[key] = try Tensor(v, shape: t.shape).astype(t.dtype)
        XCTAssertFalse(try inceptionFailures(resized: r.resized, features: r.features, mu: r.mu, golden: golden).failures.isEmpty, key)
      }
    }
  }
}

final class StatisticsTests: XCTestCase {
  func testFrechetDistanceEqualsScipy() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fidref-\(UUID().uuidString.prefix(8))")
    defer { try? FileManager.default.removeItem(at: dir) }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", root.appendingPathComponent("scripts/fid_reference.py").path, dir.path]
    p.standardOutput = Pipe()
    try p.run()
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 0, "scripts/fid_reference.py needs python3 with numpy and scipy")
    let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("reference.json"))) as! [String: Double]
    let a = try FeatureStatistics.load(npz: dir.appendingPathComponent("stats0.npz"))
    let b = try FeatureStatistics.load(npz: dir.appendingPathComponent("stats1.npz"))
    XCTAssertEqual(a.dimension, 2048)
    let fid = try frechetDistance(a, b)
    print("FID ours \(fid), scipy \(reference["fid"]!)")
    XCTAssertEqual(fid, reference["fid"]!, accuracy: 1e-6 * abs(reference["fid"]!))
    XCTAssertEqual(try frechetDistance(a, a), 0, accuracy: 1e-6 * abs(reference["fid"]!))
    // Our .npz round-trips.
    let mine = dir.appendingPathComponent("mine.npz")
    try a.save(npz: mine)
    XCTAssertEqual(try FeatureStatistics.load(npz: mine).mu, a.mu)
  }

  func testStatisticsAndKID() {
    let d = 8
    let x: [Float] = (0..<(40 * d)).map { Float(($0 * 37) % 11) / 11 }
    let s = FeatureStatistics(features: x, count: 40, dimension: d)
    let mean0 = (0..<40).map { Double(x[$0 * d]) }.reduce(0, +) / 40
    XCTAssertEqual(s.mu[0], mean0, accuracy: 1e-12)
    let var0 = (0..<40).map { pow(Double(x[$0 * d]) - mean0, 2) }.reduce(0, +) / 39
    XCTAssertEqual(s.sigma[0], var0, accuracy: 1e-12)
    let same = kernelInceptionDistance(x, x, dimension: d, subsets: 10, subsetSize: 20)
    XCTAssertEqual(same.mean, 0, accuracy: 0.05)
    let shifted = kernelInceptionDistance(x, x.map { $0 + 1 }, dimension: d, subsets: 10, subsetSize: 20)
    XCTAssertGreaterThan(shifted.mean, 0.5)
  }
}

/// The PyTorch-file reader refuses what is not tensors and containers, with clear errors.
final class TorchReaderTests: XCTestCase {
  func archive(_ pickle: [UInt8], extra: [(String, Data)] = []) -> Data {
    writeZip([("archive/data.pkl", Data(pickle))] + extra)
  }

  func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }

  func testRefusesCallsOfNonAllowlistedGlobals() {
    for (module, name) in [("os", "system"), ("builtins", "eval"), ("subprocess", "Popen"), ("torch", "load")] {
      // GLOBAL module.name, then ('ls',) REDUCE: what an attack would call.
      let pickle: [UInt8] = [0x80, 0x02] + global(module, name) + [0x58, 2, 0, 0, 0] + Array("ls".utf8) + [0x85, 0x52, 0x2E]
      XCTAssertThrowsError(try TorchFile(data: archive(pickle), source: "evil.pt")) {
        XCTAssertTrue("\($0)".contains("\(module).\(name), which is not allowed"), "\($0)")
      }
    }
  }

  func testRefusesEscapingEntriesTruncationAndHugeSizes() throws {
    let ok: [UInt8] = [0x80, 0x02, 0x7D, 0x2E]  // {}
    XCTAssertNoThrow(try TorchFile(data: archive(ok), source: "empty.pt"))
    XCTAssertThrowsError(try TorchFile(data: writeZip([("../../etc/passwd", Data([1])), ("archive/data.pkl", Data(ok))]), source: "x.pt")) {
      XCTAssertTrue("\($0)".contains("points outside the archive"), "\($0)")
    }
    let full = archive(ok)
    for cut in [full.count - 5, full.count / 2, 10] {
      XCTAssertThrowsError(try TorchFile(data: full.prefix(cut), source: "cut.pt"), "cut at \(cut)")
    }
    // A tensor claiming a storage of 2^40 floats, and a view beyond its storage.
    func tensor(count: Int, size: Int) -> [UInt8] {
      var p: [UInt8] = [0x80, 0x02, 0x7D, 0x58, 1, 0, 0, 0, 0x77]
      p += global("torch._utils", "_rebuild_tensor_v2") + [0x28, 0x28] + [0x58, 7, 0, 0, 0] + Array("storage".utf8)
      p += global("torch", "FloatStorage") + [0x58, 1, 0, 0, 0, 0x30, 0x58, 3, 0, 0, 0] + Array("cpu".utf8)
      p += [0x8A, 8] + (0..<8).map { UInt8((count >> (8 * $0)) & 0xFF) } + [0x74, 0x51]
      p += [0x4B, 0, 0x4A] + (0..<4).map { UInt8((size >> (8 * $0)) & 0xFF) } + [0x85, 0x4B, 1, 0x85, 0x89, 0x7D, 0x74, 0x52, 0x73, 0x2E]
      return p
    }
    XCTAssertThrowsError(try TorchFile(data: archive(tensor(count: 1 << 40, size: 4), extra: [("archive/data/0", Data(count: 16))]), source: "huge.pt")) {
      XCTAssertTrue("\($0)".contains("storage"), "\($0)")
    }
    XCTAssertThrowsError(try TorchFile(data: archive(tensor(count: 4, size: 9), extra: [("archive/data/0", Data(count: 16))]), source: "view.pt")) {
      XCTAssertTrue("\($0)".contains("beyond its storage"), "\($0)")
    }
    let good = try TorchFile(data: archive(tensor(count: 4, size: 4), extra: [("archive/data/0", Data(count: 16))]), source: "good.pt")
    XCTAssertEqual(good.tensors["w"]?.shape, [4])
  }

  func testFuzzedArchivesOnlyThrow() throws {
    // Seeded random corruption of a valid archive: the reader must throw or succeed, never crash.
    // MASKDM_FUZZ_ITERATIONS / MASKDM_FUZZ_SEED run it longer or elsewhere (a crash is the finding).
    let env = ProcessInfo.processInfo.environment
    let iterations = env["MASKDM_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 3000
    let pickle: [UInt8] = [0x80, 0x02, 0x7D, 0x58, 1, 0, 0, 0, 0x61, 0x5D, 0x28, 0x4B, 1, 0x4B, 2, 0x65, 0x73, 0x2E]
    let base = archive(pickle)
    var rng = SplitMix64(seed: env["MASKDM_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20261122)
    var outcomes = (ok: 0, refused: 0)
    for _ in 0..<iterations {
      var bytes = [UInt8](base)
      for _ in 0..<Int.random(in: 1...4, using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
      if Bool.random(using: &rng) { bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng))) }
      do { _ = try TorchFile(data: Data(bytes), source: "fuzz.pt"); outcomes.ok += 1 } catch { outcomes.refused += 1 }
    }
    XCTAssertEqual(outcomes.ok + outcomes.refused, iterations)
    print("fuzzed \(iterations) archives: \(outcomes.ok) loaded, \(outcomes.refused) refused, no crash")
  }
}

/// The bootstrap of one evaluation's FID: its sample-space distance equals the full one, and the
/// standard error is reproducible, positive and shrinks with more samples.
final class FIDBootstrapTests: XCTestCase {
  func features(_ n: Int, _ d: Int, seed: UInt64, shift: Double = 0) -> [Float] {
    var g = SplitMix64(seed: seed)
    return (0..<(n * d)).map { i in Float(Double(g.next() % 10_000) / 10_000 - 0.5 + shift * Double(i % d) / Double(d)) }
  }

  /// numpy 2.4.6 on the same SplitMix64 features: np.cov(X, rowvar=False)[0, 1] for n = 5, and the
  /// Fréchet distance with the symmetric trace term (eigh of sqrt(S1) S2 sqrt(S1)) for n = 5, 12, 30.
  static let numpyCovariance01 = 0.04548572399499007
  static let numpyFID: [Int: Double] = [5: 4.079991151167446, 12: 2.5264866488388944, 30: 1.675961015167175]

  func testStatisticsAndDistanceMatchNumpy() throws {
    let d = 24
    let reference = FeatureStatistics(features: features(40, d, seed: 1), count: 40, dimension: d)
    let five = FeatureStatistics(features: features(5, d, seed: 5, shift: 0.3), count: 5, dimension: d)
    XCTAssertEqual(five.sigma[1], Self.numpyCovariance01, accuracy: 1e-12, "the covariance's off-diagonal entries")
    XCTAssertEqual(five.sigma[d], Self.numpyCovariance01, accuracy: 1e-12, "and its symmetry")
    for n in [5, 12, 30] {
      let x = features(n, d, seed: UInt64(n), shift: 0.3)
      let full = try frechetDistance(FeatureStatistics(features: x, count: n, dimension: d), reference)
      let fast = try sampleSpaceFrechetDistance(x.map(Double.init), count: n, reference: reference)
      XCTAssertEqual(full, Self.numpyFID[n]!, accuracy: 1e-7, "n \(n)")  // sqrt of eigenvalues near 0 carries ~1e-8
      XCTAssertEqual(fast, full, accuracy: 1e-7, "n \(n): the sample-space distance equals the full one")
    }
  }

  /// A resample's distance from the precomputed sample-space products equals the full distance of the
  /// resampled features (repeated rows included).
  func testAResampleEqualsTheFullDistanceOfItsRows() throws {
    let d = 24, n = 12
    let reference = FeatureStatistics(features: features(40, d, seed: 1), count: 40, dimension: d)
    let x = features(n, d, seed: 7, shift: 0.3)
    let space = SampleSpaceFID(x.map(Double.init), count: n, reference: reference)
    for rows in [[0, 0, 1, 2, 3, 3, 3, 5, 7, 8, 11, 11], [4, 4, 4, 4, 4, 4, 9, 9, 9, 9, 9, 2]] {
      let picked = rows.flatMap { x[($0 * d)..<(($0 + 1) * d)] }
      let full = try frechetDistance(FeatureStatistics(features: picked, count: n, dimension: d), reference)
      XCTAssertEqual(try space.distance(rows: rows), full, accuracy: 1e-7, "rows \(rows)")
    }
  }

  func testStandardErrorIsReproducibleAndShrinksWithSamples() throws {
    let d = 16
    let reference = FeatureStatistics(features: features(200, d, seed: 9), count: 200, dimension: d)
    let few = features(20, d, seed: 3, shift: 0.2), many = features(320, d, seed: 3, shift: 0.2)
    let a = try bootstrapFIDStandardError(few, count: 20, reference: reference, rounds: 200, seed: 5)
    XCTAssertEqual(a, try bootstrapFIDStandardError(few, count: 20, reference: reference, rounds: 200, seed: 5))
    XCTAssertNotEqual(a, try bootstrapFIDStandardError(few, count: 20, reference: reference, rounds: 200, seed: 6))
    let b = try bootstrapFIDStandardError(many, count: 320, reference: reference, rounds: 200, seed: 5)
    XCTAssertGreaterThan(b, 0)
    XCTAssertLessThan(b, a / 2, "16 times the samples, about a quarter of the error")
  }
}
