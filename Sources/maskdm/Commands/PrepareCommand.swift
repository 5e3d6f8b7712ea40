// `maskdm prepare SOURCE -o DIR`: pack a dataset once into the memory-mapped cache training reads.
import ArgumentParser
import Datasets
import Foundation

struct PrepareCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "prepare", abstract: "Pack a dataset into a memory-mappable uint8 cache with a manifest.",
    discussion: """
      SOURCE: fashion-mnist:train | fashion-mnist:test | folder:PATH (celebahq:, ffhq:, afhq:) | lsun:PATH | celeba:PATH | vggface2:PATH | synthetic:COUNT
      Fashion-MNIST (28x28) is zero-padded to 32; larger images are cropped (--crop) and area-resized.
      """)

  @Argument(help: "What to pack.") var source: String
  @Option(name: .shortAndLong, help: "The output directory.") var out: String
  @Option(help: "Side length of the packed images.") var size = 32
  @Option(help: "1 (gray) or 3 (RGB).") var channels = 3
  @Option(help: "none, center or celeba64 (the U-ViT CelebA-64 recipe).") var crop = "none"
  @Option(help: "Keep only these class labels, e.g. 0,2,4.") var classes: String?
  @Option(help: "Keep at most this many images.") var limit: Int?
  @Option(help: "skip or stop at an image that does not decode.") var onBadImage = "stop"

  func run() throws {
    let parts = source.split(separator: ":", maxSplits: 1).map(String.init)
    let arg = parts.count > 1 ? parts[1] : ""
    let src: DatasetSource
    // The names a configuration's dataset.NAME takes (DatasetKind), with the argument after the colon.
    switch DatasetKind(name: parts[0]) {
    case .fashionMNIST?: src = .fashionMNIST(path: nil, split: arg.isEmpty ? "train" : arg)
    case .folder?: src = .imageFolder(path: arg)
    case .lsun?, .lmdb?: src = isLMDBExport(arg) || parts[0].lowercased() == "lmdb" ? .lmdb(path: arg) : .imageFolder(path: arg)
    case .celebA?: src = .celebA(path: arg, split: "train")
    case .vggFace2?: src = .vggFace2(path: arg)
    case .synthetic?: src = .synthetic(count: Int(arg) ?? 1000, seed: 0)
    case .prepared?, nil:
      throw ValidationError("unknown source \(source); use fashion-mnist:SPLIT, folder:PATH (also celebahq:, ffhq:, afhq:), lsun:PATH, "
                              + "celeba:PATH, vggface2:PATH or synthetic:COUNT")
    }
    let cropMode: CropMode
    switch crop {
    case "none": cropMode = .none
    case "center": cropMode = .center
    case "celeba64": cropMode = .celebA64
    default: throw ValidationError("--crop must be none, center or celeba64")
    }
    guard let policy = BadImagePolicy(rawValue: onBadImage) else { throw ValidationError("--on-bad-image must be skip or stop") }
    let wanted = try classes.map { try $0.split(separator: ",").map { s -> Int in
      guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--classes wants integers, got \(s)") }
      return v
    } }
    let options = PrepareOptions(size: size, channels: channels, crop: cropMode, classes: wanted, limit: limit, onBadImage: policy)
    let start = Date()
    let manifest = try prepareDataset(src, options: options, to: URL(fileURLWithPath: out), progress: { done, total in
      let rate = Double(done) / max(Date().timeIntervalSince(start), 1e-6)
      FileHandle.standardError.write(Data(String(format: "\rprepared %d/%d (%.0f images/s)", done, total, rate).utf8))
    }, notice: { FileHandle.standardError.write(Data("\($0)\n".utf8)) })
    FileHandle.standardError.write(Data("\n".utf8))
    print("\(manifest.count) images of \(size)x\(size)x\(channels) in \(out) (checksum \(manifest.checksum))"
            + (manifest.skipped.isEmpty ? "" : "; skipped \(manifest.skipped.count): \(manifest.skipped.prefix(5).joined(separator: ", "))"))
  }
}
