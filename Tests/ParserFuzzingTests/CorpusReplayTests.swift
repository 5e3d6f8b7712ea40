import Foundation
import ParserFuzzing
import XCTest

/// Replays every saved fuzz input (Tests/Fixtures/fuzz/TARGET/: the seeds, and inputs that once
/// crashed a reader) through its reader: each must be loaded or refused, never crash the process.
final class CorpusReplayTests: XCTestCase {
  static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/fuzz")

  func testEveryTargetHasSeedsAndEverySavedInputIsLoadedOrRefused() throws {
    let fm = FileManager.default
    var replayed = 0
    for target in FuzzTarget.allCases {
      let folder = Self.corpus.appendingPathComponent(target.rawValue)
      let files = try fm.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil).sorted { $0.path < $1.path }
      XCTAssertFalse(files.isEmpty, "no corpus for \(target.rawValue) in \(folder.path)")
      for file in files {
        let outcome = target.parse(try Data(contentsOf: file))
        XCTAssertFalse(outcome.isEmpty, file.path)
        replayed += 1
      }
    }
    // The folders hold nothing but the targets' corpora.
    let folders = try fm.contentsOfDirectory(atPath: Self.corpus.path).sorted()
    XCTAssertEqual(folders, FuzzTarget.allCases.map(\.rawValue).sorted())
    print("replayed \(replayed) saved inputs")
  }

  /// The seeds are real files of each format: the readers load them (a seed that is refused would
  /// leave the fuzzer starting from an error path). The seeds meant to be refused say so by name.
  func testSeedsLoad() throws {
    for target in FuzzTarget.allCases {
      let folder = Self.corpus.appendingPathComponent(target.rawValue)
      for file in try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil) {
        let name = file.lastPathComponent
        let outcome = target.parse(try Data(contentsOf: file))
        let refusedOnPurpose = name.hasPrefix("hostile") || name.hasPrefix("compressed") || name.hasPrefix("crash-")
        XCTAssertEqual(outcome.hasPrefix("refused"), refusedOnPurpose, "\(target.rawValue)/\(name): \(outcome)")
      }
    }
  }
}
