import Engine
import Foundation
import MaskDM
import XCTest

/// One golden DPM-Solver++ 2M trajectory of diffusers' DPMSolverMultistepScheduler:
/// `dpm_*.safetensors` with its `.json` (scripts/make_golden.py dpm).
struct DPMGolden {
  let name: String
  let tensors: [String: Tensor]
  let json: [String: Any]

  /// Every dpm_ case in Tests/Fixtures/golden and in $MASKDM_GOLDEN_DIR.
  static func all() throws -> [DPMGolden] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var dirs = [root.appendingPathComponent("Tests/Fixtures/golden")]
    if let extra = ProcessInfo.processInfo.environment["MASKDM_GOLDEN_DIR"], !extra.isEmpty { dirs.append(URL(fileURLWithPath: extra)) }
    var cases: [DPMGolden] = []
    for dir in dirs {
      let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
      for f in files.sorted() where f.hasPrefix("dpm_") && f.hasSuffix(".safetensors") {
        let url = dir.appendingPathComponent(f)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url.deletingPathExtension().appendingPathExtension("json"))) as! [String: Any]
        cases.append(DPMGolden(name: url.path, tensors: try SafetensorsFile.load(url).tensors, json: json))
      }
    }
    return cases
  }

  var steps: Int { (json["steps"] as! NSNumber).intValue }

  func diffusion() throws -> GaussianDiffusion {
    let objective: Objective = ["pred_noise": .eps, "pred_x0": .x0, "pred_v": .v][json["objective"] as! String]!
    return try GaussianDiffusion(schedule: BetaSchedule(rawValue: json["schedule"] as! String)!,
                                 timesteps: (json["timesteps"] as! NSNumber).intValue, objective: objective)
  }

  /// The script's analytic model, `0.9 tanh(0.7 x + 0.3 cos(0.013 t)) + 0.1 x`, elementwise.
  static func analyticModel(_ x: Tensor, _ t: Tensor) throws -> Tensor {
    let phase = try (t.astype(.float32) * 0.013).cos().reshaped([t.shape[0], 1, 1, 1]) * 0.3
    return try (x * 0.7 + phase).tanh() * 0.9 + x * 0.1
  }

  /// Our trajectory: the state after every step, stacked (steps, B, C, H, W), and the timesteps.
  func compute() throws -> (states: Tensor, timesteps: [Int]) {
    let d = try diffusion()
    XCTAssertEqual(json["model"] as? String, "0.9 * tanh(0.7 * x + 0.3 * cos(0.013 * t)) + 0.1 * x",
                   "\(name): the case's model is not the one this test implements")
    var states: [Tensor] = []
    _ = try d.dpmSolver2M(model: Self.analyticModel, from: tensors["in.noise"]!, steps: steps, clip: json["clip"] as! Bool) { _, x in
      states.append(x)
    }
    return (try Tensor.stack(states), try d.dpmSolverTimesteps(steps: steps))
  }
}

final class DPMSolverGoldenTests: XCTestCase {
  /// Every step of every case equals the reference within 1e-5 (relative to the step's largest value).
  func testEveryTrajectoryMatchesDiffusers() throws {
    try Engine.run {
      let cases = try DPMGolden.all()
      XCTAssertGreaterThanOrEqual(cases.count, 6, "expected dpm_ cases for the three objectives and two schedules")
      var covered = Set<String>()
      for golden in cases {
        let (states, times) = try golden.compute()
        XCTAssertEqual(times, try golden.tensors["out.timesteps"]!.doubles().map { Int($0) }, "\(golden.name): timesteps")
        let reference = golden.tensors["out.x"]!
        XCTAssertEqual(states.shape, reference.shape, golden.name)
        var worst = 0.0
        for i in 0..<golden.steps {
          let e = try relativeError(states.slice(axis: 0, i..<(i + 1)), reference.slice(axis: 0, i..<(i + 1)))
          worst = Swift.max(worst, e)
          XCTAssertLessThanOrEqual(e, 1e-5, "\(golden.name): step \(i + 1) of \(golden.steps)")
        }
        print("golden \(golden.name): \(golden.steps) steps, largest relative error \(String(format: "%.2e", worst))")
        covered.insert("\(golden.json["schedule"]!) \(golden.json["objective"]!)")
      }
      for s in ["linear", "cosine"] {
        for o in ["pred_noise", "pred_x0", "pred_v"] { XCTAssertTrue(covered.contains("\(s) \(o)"), "no golden case for \(s) \(o)") }
      }
    }
  }

  /// The comparison can fail: DDIM (eta 0, a first-order solver) on the same timesteps is caught.
  func testAFirstOrderSolverIsDetected() throws {
    try Engine.run {
      guard let golden = try DPMGolden.all().first(where: { $0.steps >= 3 }) else { return XCTFail("no golden case with 3+ steps") }
      let d = try golden.diffusion()
      var x = golden.tensors["in.noise"]!
      let times = try d.dpmSolverTimesteps(steps: golden.steps)
      for (i, time) in times.enumerated().dropLast() {
        let t = try Tensor.full([x.shape[0]], Double(time), dtype: .int32)
        let (x0, eps) = try d.predictions(output: DPMGolden.analyticModel(x, t), xt: x, t: t, clip: golden.json["clip"] as! Bool)
        let next = d.alphasCumprod[times[i + 1]]
        x = try x0 * next.squareRoot() + eps * (1 - next).squareRoot()
      }
      let last = try golden.tensors["out.x"]!.slice(axis: 0, (golden.steps - 2)..<(golden.steps - 1))
      let e = try relativeError(x.expandedDims(at: 0), last)
      XCTAssertGreaterThan(e, 1e-5)
    }
  }

  func testTimestepsFollowTheReferenceSpacing() throws {
    try Engine.run {
      let d = try GaussianDiffusion(schedule: .linear)
      XCTAssertEqual(try d.dpmSolverTimesteps(steps: 1), [999])
      // linspace(0, 999, 3) = 0, 499.5, 999: NumPy rounds 499.5 to the even 500.
      XCTAssertEqual(try d.dpmSolverTimesteps(steps: 2), [999, 500])
      XCTAssertEqual(try d.dpmSolverTimesteps(steps: 10), [999, 899, 799, 699, 599, 500, 400, 300, 200, 100])
      XCTAssertThrowsError(try d.dpmSolverTimesteps(steps: 0))
      XCTAssertThrowsError(try GaussianDiffusion(schedule: .linear, timesteps: 10).dpmSolverTimesteps(steps: 10))
    }
  }

  func testSamplerNamesParse() throws {
    XCTAssertEqual(try Sampler.parse("dpm++2m", steps: 20, eta: 1), .dpmSolver2M(steps: 20))
    XCTAssertEqual(try Sampler.parse("DPMPP2M", steps: 5, eta: 0), .dpmSolver2M(steps: 5))
    XCTAssertEqual(try Sampler.parse("ddim", steps: 50, eta: 0.5), .ddim(steps: 50, eta: 0.5))
    XCTAssertEqual(try Sampler.parse("ddpm", steps: 50, eta: 0), .ddpm)
    XCTAssertEqual(Sampler.dpmSolver2M(steps: 20).name, "dpm++2m")
    XCTAssertEqual(Sampler.dpmSolver2M(steps: 20).steps, 20)
    XCTAssertNil(Sampler.dpmSolver2M(steps: 20).eta)
    XCTAssertThrowsError(try Sampler.parse("heun", steps: 20, eta: 0)) { error in
      XCTAssertTrue("\(error)".contains("dpm++2m"), "\(error)")
    }
    XCTAssertThrowsError(try Sampler.parse("dpm++2m", steps: 0, eta: 0))
    // Codable: configs and study results store the sampler.
    let data = try JSONEncoder().encode(Sampler.dpmSolver2M(steps: 12))
    XCTAssertEqual(try JSONDecoder().decode(Sampler.self, from: data), .dpmSolver2M(steps: 12))
  }
}
