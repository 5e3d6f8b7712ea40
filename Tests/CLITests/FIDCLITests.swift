import Datasets
import Engine
import Foundation
import XCTest

/// `maskdm fid` as a user runs it.
final class FIDCLITests: XCTestCase {
  func testStatsOfGoldenPNGsReproduceTheReferenceMean() throws {
    let golden = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/golden/inception_small.safetensors")
    let dir = CLI.temporaryDirectory("fidpngs")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let (images, mu) = try Engine.run { () -> ([UInt8], [Double]) in
      let t = try SafetensorsFile.load(golden).tensors
      return (try t["in.images"]!.toArray(UInt8.self), try t["out.mu"]!.doubles())
    }
    let per = 32 * 32 * 3
    for i in 0..<(images.count / per) {
      try writePNG(pixels: Array(images[(i * per)..<((i + 1) * per)]), width: 32, height: 32, channels: 3,
                   to: dir.appendingPathComponent("image-\(i).png"))
    }
    let npz = dir.appendingPathComponent("stats.npz")
    let r = try CLI.run(["fid", "stats", dir.path, "-o", npz.path])
    XCTAssertEqual(r.status, 0, r.stderr)
    // The .npz is numpy's: read mu back with python if present, else with our reader via a second CLI call.
    let self_ = try CLI.run(["fid", "compare", npz.path, npz.path, "--json"])
    XCTAssertTrue(self_.stdout.contains("\"fid\":0") || self_.stdout.contains("\"fid\":-0") || self_.stdout.contains("e-"), self_.stdout)
    let check = Process()
    check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    check.arguments = ["python3", "-c", "import numpy as np, sys; print(repr(np.load(sys.argv[1])['mu'].tolist()))", npz.path]
    let pipe = Pipe()
    check.standardOutput = pipe
    try check.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    check.waitUntilExit()
    let ours = text.trimmingCharacters(in: CharacterSet(charactersIn: "[]\n")).split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    XCTAssertEqual(ours.count, 2048, "numpy could not read the .npz")
    let scale = mu.map { abs($0) }.max()!
    let err = zip(ours, mu).map { abs($0 - $1) }.max()! / scale
    XCTAssertLessThanOrEqual(err, 1e-4, "mu from `maskdm fid stats` differs from out.mu by \(err)")

    // --resize clean: recorded in the statistics, which then refuse a comparison by the other protocol.
    let clean = dir.appendingPathComponent("clean.npz")
    let c = try CLI.run(["fid", "stats", dir.path, "-o", clean.path, "--resize", "clean"])
    XCTAssertEqual(c.status, 0, c.stderr)
    XCTAssertTrue(c.stdout.contains("resize clean (PIL bicubic"), c.stdout)
    let mixed = try CLI.run(["fid", "compare", clean.path, npz.path, "--resize", "clean"])
    XCTAssertNotEqual(mixed.status, 0)
    XCTAssertTrue(mixed.stderr.contains("\(npz.path) holds statistics taken with the resize ttur"), mixed.stderr)
    let same = try CLI.run(["fid", "compare", clean.path, clean.path, "--resize", "clean", "--json"])
    XCTAssertEqual(same.status, 0, same.stderr)
    XCTAssertTrue(same.stdout.contains("\"resize\":\"clean\""), same.stdout)
    let bad = try CLI.run(["fid", "compare", clean.path, clean.path, "--resize", "bilinear"])
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertTrue(bad.stderr.contains("ttur") && bad.stderr.contains("clean"), bad.stderr)
    // A folder measured with --resize clean against its clean statistics: the same protocol, FID 0.
    let both = try CLI.run(["fid", "compare", dir.path, clean.path, "--resize", "clean", "--json"])
    XCTAssertTrue(both.stdout.contains("\"fid\":0") || both.stdout.contains("e-"), "the same images by the same protocol: \(both.stdout)")
  }
}
