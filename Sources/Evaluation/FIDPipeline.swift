// From images on disk to FID statistics: a folder of PNG/JPEG/WebP images (a run's samples too) or a
// prepared dataset, decoded in batches and passed through the Inception network.
import Datasets
import Foundation

/// Images to measure: a folder (recursively) or a directory written by `maskdm prepare`.
public enum ImageSet {
  case folder(URL)
  case prepared(PackedDataset, limit: Int?)
  /// The images of a prepared dataset at these indices, in this order.
  case preparedSubset(PackedDataset, indices: [Int])

  /// Recognises a prepared dataset by its manifest.json, else treats `url` as a folder of images.
  public static func at(_ url: URL, limit: Int? = nil) throws -> ImageSet {
    if FileManager.default.fileExists(atPath: url.appendingPathComponent("manifest.json").path) {
      return .prepared(try PackedDataset(directory: url), limit: limit)
    }
    return .folder(url)
  }
}

/// Inception features of every image of a set, `batchSize` at a time; `progress(done, total, img/s)`.
public func inceptionFeatures(_ set: ImageSet, extractor: InceptionFeatureExtractor, batchSize: Int = 16,
                              progress: ((Int, Int, Double) -> Void)? = nil) throws -> (features: [Float], count: Int) {
  let start = Date()
  var features: [Float] = []
  var done = 0
  func report(_ total: Int) { progress?(done, total, Double(done) / max(Date().timeIntervalSince(start), 1e-9)) }
  switch set {
  case let .prepared(data, limit):
    return try inceptionFeatures(.preparedSubset(data, indices: Array(0..<min(data.count, limit ?? .max))), extractor: extractor,
                                 batchSize: batchSize, progress: progress)
  case let .preparedSubset(data, indices):
    let total = indices.count
    var i = 0
    while i < total {
      let n = min(batchSize, total - i)
      let pixels = indices[i..<(i + n)].flatMap { data.image($0) }
      features += try extractor.features(images: pixels, count: n, height: data.height, width: data.width, channels: data.channels)
      i += n
      done = i
      report(total)
    }
  case let .folder(url):
    let files = try imageFiles(under: url)
    var i = 0
    while i < files.count {
      // A batch holds images of one size; a size change starts a new batch.
      var batch: [DecodedImage] = []
      while i < files.count, batch.count < batchSize {
        let im = try decodeImage(at: files[i])
        if let first = batch.first, (first.width, first.height, first.channels) != (im.width, im.height, im.channels) { break }
        batch.append(im)
        i += 1
      }
      let f = batch[0]
      features += try extractor.features(images: batch.flatMap(\.pixels), count: batch.count, height: f.height, width: f.width, channels: f.channels)
      done = i
      report(files.count)
    }
  }
  return (features, done)
}
