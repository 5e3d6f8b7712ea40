import Foundation
import XCTest

/// Class-conditional training and sampling as a user runs them: `num_classes` on labelled data,
/// `sample --class … --guidance …` with DPM-Solver++, and the mistakes a user can make.
final class ConditionalCLITests: XCTestCase {
  let tiny = "configs/tiny.yaml"

  /// Width and height of a PNG file (its IHDR chunk).
  func pngSize(_ url: URL) throws -> (Int, Int) {
    let d = [UInt8](try Data(contentsOf: url))
    func be(_ i: Int) -> Int { d[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
    return (be(16), be(20))
  }

  func testConditionalRunSamplesPerClassGridsAndRefusesMistakes() throws {
    let run = CLI.temporaryDirectory("cond"), out = CLI.temporaryDirectory("cond-out")
    defer { [run, out].forEach { try? FileManager.default.removeItem(at: $0) } }
    // The synthetic set has labels 0…9; the run's sample grid cycles through the classes.
    let train = try CLI.run(["train", tiny, "--set", "network.num_classes=10", "--set", "train_steps=4", "--set", "save_and_sample_every=4",
                             "--set", "num_samples=10", "--set", "sampling_timesteps=3", "-o", run.path])
    XCTAssertEqual(train.status, 0, train.stderr)
    let grid = out.appendingPathComponent("grid.png")
    let s = try CLI.run(["sample", run.path, "-n", "20", "--class", "all", "--guidance", "3", "--sampler", "dpm++2m", "--steps", "3",
                         "--grid", grid.path, "--out", out.appendingPathComponent("images").path])
    XCTAssertEqual(s.status, 0, s.stderr)
    XCTAssertTrue(s.stdout.contains("DPM-Solver++ 2M 3 steps") && s.stdout.contains("guidance 3"), s.stdout)
    // One row per class, two images each: 2 + 2 * (16 + 2) wide, 2 + 10 * (16 + 2) high.
    let (w, h) = try pngSize(grid)
    XCTAssertEqual([w, h], [38, 182])

    for (args, message) in [(["--class", "10"], "not one of the model's classes 0…9"),
                            (["--guidance", "2"], "needs classes to guide towards"),
                            (["--class", "all", "-n", "15"], "a multiple of the 10 classes"),
                            (["--sampler", "heun"], "dpm++2m"),
                            (["--sampler", "dpm++2m", "--eta", "0.5"], "deterministic"),
                            (["--ddpm", "--steps", "4"], "no effect with DDPM")] {
      let r = try CLI.run(["sample", run.path, "-n", "10", "--grid", grid.path] + args)
      XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
      XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
    }

    // A folder of images has no labels: a conditional model refuses it instead of training on one embedding.
    let images = out.appendingPathComponent("images").path
    let unlabelled = try CLI.run(["train", tiny, "--set", "network.num_classes=10", "--set", "dataset.NAME=folder",
                                  "--set", "dataset.PATH=\(images)", "--set", "train_steps=1", "-o", out.appendingPathComponent("r").path])
    XCTAssertNotEqual(unlabelled.status, 0)
    XCTAssertTrue(unlabelled.stderr.contains("has no labels"), unlabelled.stderr)
    // And an unconditional model has no classes to draw.
    let uncond = try CLI.run(["train", tiny, "--set", "train_steps=1", "--set", "num_samples=0", "-o", out.appendingPathComponent("u").path])
    XCTAssertEqual(uncond.status, 0, uncond.stderr)
    let r = try CLI.run(["sample", out.appendingPathComponent("u").path, "-n", "2", "--class", "1", "--grid", grid.path])
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("unconditional"), r.stderr)
  }

  func testBenchSampleReportsThroughput() throws {
    let r = try CLI.run(["bench", "sample", "--preset", "tiny", "--sampler", "dpm++2m", "--steps", "2", "--batch-size", "2",
                         "--batches", "1", "--guidance", "2", "--json"])
    XCTAssertEqual(r.status, 0, r.stderr)
    let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(json["sampler"] as? String, "DPM-Solver++ 2M 2 steps")
    XCTAssertEqual(json["images"] as? Int, 2)
    XCTAssertGreaterThan(json["images_per_second"] as? Double ?? 0, 0)
    let bad = try CLI.run(["bench", "sample", "--preset", "tiny", "--batches", "0"])
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertTrue(bad.stderr.contains("--batches must be positive"), bad.stderr)
  }
}
