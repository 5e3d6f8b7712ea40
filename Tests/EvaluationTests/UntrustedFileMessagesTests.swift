import Engine
@testable import Evaluation
import Foundation
@testable import TorchFormats
import XCTest

/// Files that are not what they claim are described in their own terms, not in PyTorch's or zip's.
final class UntrustedFileMessagesTests: XCTestCase {
  func testNPZMessagesSpeakOfNPZ() throws {
    XCTAssertThrowsError(try FeatureStatistics.read(npz: Data("mu,sigma\n1,2\n".utf8), name: "stats.npz")) {
      XCTAssertEqual("\($0)", "stats.npz is not an .npz file (a zip of .npy arrays, as numpy.savez writes): not a zip file at all")
    }
    // numpy.savez_compressed deflates the entries.
    let npy = NPY.encode([1, 2], shape: [2])
    var compressed = writeZip([("mu.npy", npy), ("sigma.npy", npy)])
    compressed[8] = 8  // the first local header's method: deflate
    let central = try XCTUnwrap((0..<(compressed.count - 4)).first { compressed[$0..<($0 + 4)].elementsEqual([0x50, 0x4B, 0x01, 0x02]) })
    compressed[central + 10] = 8
    XCTAssertThrowsError(try FeatureStatistics.read(npz: compressed, name: "fid_stats.npz")) {
      XCTAssertTrue("\($0)".contains("numpy.savez rather than numpy.savez_compressed"), "\($0)")
      XCTAssertFalse("\($0)".contains("PyTorch"), "\($0)")
    }
    // A version-2 .npy header cut short, and shapes whose product overflows: refused, not a trap.
    let header = Array("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }".utf8)
    let overflowing = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count), 0] + header + [UInt8](repeating: 0, count: 16)
    for bytes: [UInt8] in [[0x93] + Array("NUMPY".utf8) + [2, 0, 0, 0], overflowing] {
      XCTAssertThrowsError(try NPY.decode(Data(bytes), name: "x"))
    }
  }

  func testLegacyPyTorchFilesAreNamedAsSuch() {
    // torch.save(..., _use_new_zipfile_serialization=False): a pickle, magic number first.
    let legacy = Data([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E])
    XCTAssertThrowsError(try TorchFile(data: legacy, source: "old.pt")) {
      XCTAssertTrue("\($0)".contains("old.pt is a PyTorch file in the legacy format (torch.save before PyTorch 1.6"), "\($0)")
      XCTAssertFalse("\($0)".contains("zip archive"), "\($0)")
    }
    XCTAssertThrowsError(try TorchFile(data: Data("hello".utf8), source: "notes.txt")) {
      XCTAssertEqual("\($0)", "notes.txt is not a PyTorch zip archive: not a zip file at all")
    }
    XCTAssertThrowsError(try Engine.run { try SafetensorsFile.parse(legacy, name: "model.pt") }) {
      XCTAssertTrue("\($0)".contains("model.pt is a PyTorch file, not safetensors: convert it with `maskdm convert"), "\($0)")
    }
  }

  /// A safetensors file whose header length starts with the pickle's or zip's first byte (a length of
  /// 0x..80: one file in 256) is still read as safetensors.
  func testASafetensorsHeaderLengthThatLooksLikeAPickleIsRead() throws {
    try Engine.run {
      let w = try Tensor([1, 2, 3] as [Float])
      let encoded = try (0..<300).lazy.map { pad in
        try SafetensorsFile(tensors: ["w": w], metadata: ["pad": String(repeating: "x", count: pad)]).encoded()
      }.first { $0.first == 0x80 }
      let data = try XCTUnwrap(encoded, "no padding gave a header length ending in 0x80")
      let file = try SafetensorsFile.parse(data, name: "snapshot.safetensors")
      XCTAssertEqual(try file.tensors["w"]!.floats(), [1, 2, 3])
    }
  }
}

/// A pickle can put a memoised container into itself: a reference cycle ARC never frees (libFuzzer's
/// leak checker found it; Tests/Fixtures/fuzz/torch/crash-leak-self-containing.pt). Refused, and freed.
final class PickleCycleTests: XCTestCase {
  func testASelfContainingListIsRefused() {
    // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND, STOP: l = []; l.append(l)
    let pickle = Data([0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E])
    XCTAssertThrowsError(try Unpickler.load(pickle, source: "cycle.pkl")) {
      XCTAssertTrue("\($0)".contains("a container that contains itself"), "\($0)")
    }
    // A list shared twice, without a cycle, loads: [[], []] with both the same list.
    let shared = Data([0x80, 0x02, 0x5D, 0x5D, 0x71, 0x00, 0x61, 0x68, 0x00, 0x61, 0x2E])
    XCTAssertNoThrow(try Unpickler.load(shared, source: "shared.pkl"))
  }

  func testTheContainersOfARefusedPickleAreFreed() {
    weak var weakList: PickleList?
    weak var weakDict: PickleDict?
    do {
      let containers = Containers()
      let list = PickleList(), dict = PickleDict()
      list.items = [.tuple([.dict(dict)])]
      dict.values = [.list(list)]
      _ = containers.note(.list(list))
      _ = containers.note(.dict(dict))
      (weakList, weakDict) = (list, dict)
      XCTAssertTrue(containers.formCycle())
      containers.empty()
    }
    XCTAssertNil(weakList)
    XCTAssertNil(weakDict)
    let acyclic = Containers()
    let a = PickleList(), b = PickleList()
    a.items = [.list(b), .list(b)]
    _ = acyclic.note(.list(a))
    _ = acyclic.note(.list(b))
    XCTAssertFalse(acyclic.formCycle())
  }
}
