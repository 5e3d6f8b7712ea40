import Engine
import Foundation
import XCTest

/// compile, random keys, safetensors, errors and the engine thread.
final class TransformTests: XCTestCase {
  func testCompiledEqualsEager() throws {
    try onEngine {
      let body: ([Tensor]) throws -> [Tensor] = { a in
        let h = try a[0].matmul(a[1]).gelu()
        return [try (h * h).sum(axes: [1]), try h.softmax(axes: [-1])]
      }
      let compiled = try CompiledFunction(body)
      let keys = try PRNGKey(seed: 7).split(2)
      for rows in [3, 5, 3] {  // a second shape traces again; the first shape is reused
        let x = try Random.normal([rows, 8], key: keys[0])
        let w = try Random.normal([8, 6], key: keys[1])
        let eager = try body([x, w])
        let fused = try compiled([x, w])
        for (e, f) in zip(eager, fused) { assertClose(try f.doubles(), try e.doubles(), tolerance: 1e-5) }
      }
      // State in and state out: a compiled SGD step on f(w) = |w|^2 halves w each step at lr 0.25.
      let step = try CompiledFunction { s in
        let (_, g) = try valueAndGrad([s[0]], argnums: [0]) { [try $0[0].square().sum()] }
        return [try s[0] - g[0] * 0.25]
      }
      var w = try Tensor([4, -8] as [Float])
      for _ in 0..<3 { w = try step([w])[0] }
      XCTAssertEqual(try w.floats(), [0.5, -1])
    }
  }

  func testGraphCensusCountsTheNodesAnEvaluationWouldRun() throws {
    try onEngine {
      let a = try Tensor([1, 2, 3] as [Float], shape: [3])
      let b = try Tensor([4, 5, 6] as [Float], shape: [3])
      let shared = try a + b
      let y = try (shared * shared + shared).reshaped([3, 1])
      XCTAssertEqual(try graphCensus([y]), ["Add": 2, "Multiply": 1, "Reshape": 1])
      try eval(shared)
      XCTAssertEqual(try graphCensus([y]), ["Add": 1, "Multiply": 1, "Reshape": 1], "evaluated nodes are not counted")
      try eval(y)
      XCTAssertEqual(try graphCensus([y]), [:])
    }
  }

  func testKeysAreReproducibleAndSplitStreamsIndependent() throws {
    try onEngine {
      let a = try Random.normal([1000], key: PRNGKey(seed: 42)).floats()
      let b = try Random.normal([1000], key: PRNGKey(seed: 42)).floats()
      XCTAssertEqual(a, b, "same key, same numbers")
      let parts = try PRNGKey(seed: 42).split(2)
      let x = try Random.normal([4000], dtype: .float64, key: parts[0]).doubles()
      let y = try Random.normal([4000], dtype: .float64, key: parts[1]).doubles()
      XCTAssertNotEqual(x, y)
      let mx = x.reduce(0, +) / 4000, my = y.reduce(0, +) / 4000
      let cov = zip(x, y).map { ($0 - mx) * ($1 - my) }.reduce(0, +) / 4000
      XCTAssertLessThan(Swift.abs(cov), 0.06, "split streams look correlated")
      XCTAssertLessThan(Swift.abs(mx), 0.06)
      // Keys survive a round trip through their words (checkpoints store them so).
      let words = try parts[1].words()
      XCTAssertEqual(try Random.uniform([5], key: PRNGKey(words: words)).floats(),
                     try Random.uniform([5], key: parts[1]).floats())
      let perm = try Random.permutation(10, key: parts[0]).toArray(Int32.self)
      XCTAssertEqual(perm.sorted(), Array(0..<10))
      let ints = try Random.randint([200], low: 3, high: 6, key: parts[0]).toArray(Int32.self)
      XCTAssertTrue(ints.allSatisfy { (3..<6).contains($0) })
      let tn = try Random.truncatedNormal([500], lower: -1, upper: 1, key: parts[0]).floats()
      XCTAssertTrue(tn.allSatisfy { $0 >= -1 && $0 <= 1 })
      let coin = try Random.bernoulli([1000], p: 0.25, key: parts[1]).astype(.float32).mean().item()
      XCTAssertEqual(coin, 0.25, accuracy: 0.06)
    }
  }

  func testSafetensorsRoundTripEveryDtype() throws {
    try onEngine {
      let url = FileManager.default.temporaryDirectory.appendingPathComponent("engine-\(UUID()).safetensors")
      defer { try? FileManager.default.removeItem(at: url) }
      let base = try Tensor([0, 1.5, -2, 3] as [Float], shape: [2, 2])
      var file = SafetensorsFile(metadata: ["format": "test"])
      let dtypes: [DType] = [.float32, .float16, .bfloat16, .float64, .int32, .int64, .uint8, .uint32, .bool]
      for d in dtypes { file.tensors["t.\(d)"] = try (d == .uint8 || d == .uint32 ? base.abs() : base).astype(d) }
      try file.save(url)
      let back = try SafetensorsFile.load(url)
      XCTAssertEqual(back.metadata["format"], "test")
      for d in dtypes {
        let t = try XCTUnwrap(back.tensors["t.\(d)"])
        XCTAssertEqual(t.dtype, d)
        XCTAssertEqual(t.shape, [2, 2])
        XCTAssertEqual(try t.bytes(), try file.tensors["t.\(d)"]!.bytes(), "\(d)")
      }
    }
  }

  func testBadInputThrowsInsteadOfCrashing() throws {
    try onEngine {
      let a = try Tensor.zeros([2, 3])
      XCTAssertThrowsError(try a.matmul(Tensor.zeros([2, 3]))) { error in
        XCTAssertTrue("\(error)".contains("matmul"), "\(error)")
      }
      XCTAssertThrowsError(try a.reshaped([4, 2]))
      XCTAssertThrowsError(try a + Tensor.zeros([4]))
      XCTAssertThrowsError(try Tensor([1, 2, 3] as [Float], shape: [2, 2]))
      XCTAssertThrowsError(try SafetensorsFile.load(URL(fileURLWithPath: "/nonexistent/x.safetensors")))
      // A corrupt safetensors file is an error, not a crash.
      let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID()).safetensors")
      try Data([200, 0, 0, 0, 0, 0, 0, 0] + Array("{\"x\":".utf8)).write(to: bad)
      defer { try? FileManager.default.removeItem(at: bad) }
      XCTAssertThrowsError(try SafetensorsFile.load(bad))
      // An error thrown inside a differentiated closure comes back as itself.
      struct Marker: Error {}
      XCTAssertThrowsError(try valueAndGrad([a], argnums: [0]) { _ in throw Marker() }) { error in
        XCTAssertTrue(error is Marker)
      }
      // The engine still works afterwards.
      XCTAssertEqual(try (a + 1).sum().item(), 6)
    }
  }

  func testCallFromAnotherThreadIsRefusedOrRouted() throws {
    let tensor = try Engine.run { try Tensor([1, 2] as [Float]) }
    var refused: Error?
    var routed: [Float] = []
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      do { _ = try tensor + tensor } catch { refused = error }
      routed = (try? Engine.run { try (tensor + tensor).floats() }) ?? []
      done.signal()
    }
    done.wait()
    XCTAssertTrue("\(refused.map { "\($0)" } ?? "")".contains("engine thread"), "\(String(describing: refused))")
    XCTAssertEqual(routed, [2, 4])
  }

  func testDeviceSelection() throws {
    XCTAssertEqual(try Engine.select(.cpu), .cpu)
    let auto = try Engine.select(.auto)
    XCTAssertEqual(auto, Engine.gpuAvailable ? .gpu : .cpu)
    if !Engine.gpuAvailable {
      XCTAssertThrowsError(try Engine.select(.gpu))
    }
    try Engine.select(.cpu)
    XCTAssertGreaterThanOrEqual(Memory.peak, 0)
  }
}

/// Hostile or broken safetensors files are refused with a message, never read out of bounds.
final class SafetensorsValidationTests: XCTestCase {
  func write(_ header: String, data: [UInt8] = []) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID()).safetensors")
    var bytes = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: Array(header.utf8) + data)
    try bytes.write(to: url)
    return url
  }

  func testRefusals() throws {
    try onEngine {
      let cases: [(String, [UInt8], String)] = [
        (#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, [0, 0, 0, 0], "do not fit"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, [0, 0, 0, 0], "do not fit"),
        (#"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#, [0], "unsupported dtype"),
        (#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, [0, 0, 0, 0], "shape"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, [0, 0, 0, 0], "do not fit"),
        ("{not json", [], "not JSON"),
      ]
      for (header, data, expected) in cases {
        let url = try write(header, data: data)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try SafetensorsFile.load(url), header) { error in
          XCTAssertTrue("\(error)".contains(expected), "\(header): \(error)")
        }
      }
      // A header length far beyond the file.
      let url = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID()).safetensors")
      try Data([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x7b]).write(to: url)
      defer { try? FileManager.default.removeItem(at: url) }
      XCTAssertThrowsError(try SafetensorsFile.load(url)) { XCTAssertTrue("\($0)".contains("header claims")) }
    }
  }
}
