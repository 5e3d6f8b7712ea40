// Batches for training, prepared on a background thread. The sequence of batches is a pure function
// of (dataset, batch size, seed, flips, subset, start position) — never of thread timing — so a run
// resumed from a checkpointed position sees exactly the batches an uninterrupted run would.
//   epoch e: a permutation of the (subset) indices drawn from SplitMix64(seed, e); the last partial
//            batch is dropped; flips drawn per (seed, epoch, batch, slot).
// In data-parallel training every rank runs the same loader (same seed) and keeps only its shard of
// each global batch, so the ranks' shards are disjoint and together are the single-process batch.
import Foundation

/// Where the loader stands: the next batch is batch `index` of epoch `epoch`.
public struct LoaderPosition: Codable, Equatable, Sendable {
  public var epoch: Int
  public var index: Int
  public init(epoch: Int, index: Int) { (self.epoch, self.index) = (epoch, index) }
}

/// The rows of every global batch one rank of a data-parallel job reads. The batch is cut into
/// `groups` equal chunks (micro-batches of gradient accumulation), and each chunk into `count` equal
/// parts; rank `rank` takes part `rank` of every chunk.
public struct LoaderShard: Equatable, Sendable {
  public var rank: Int
  public var count: Int
  public var groups: Int
  public init(rank: Int, count: Int, groups: Int = 1) { (self.rank, self.count, self.groups) = (rank, count, groups) }
  /// The whole batch (one process).
  public static let all = LoaderShard(rank: 0, count: 1)

  /// Row indices of a global batch of `batchSize` that this shard reads, in order.
  public func rows(batchSize: Int) -> [Int] {
    let chunk = batchSize / groups, part = chunk / count
    var rows: [Int] = []
    for g in 0..<groups {
      let start = g * chunk + rank * part
      rows.append(contentsOf: start..<(start + part))
    }
    return rows
  }
}

/// A batch of images, HWC uint8, with labels when the dataset has them.
public struct Batch: Sendable {
  public var pixels: [UInt8]
  public var labels: [Int32]?
  public var count: Int
  public var height: Int
  public var width: Int
  public var channels: Int
}

public final class BatchLoader: @unchecked Sendable {
  public let dataset: PackedDataset
  public let batchSize: Int
  public let seed: UInt64
  /// The probability that an image is mirrored left-right (`hflip_prob`), drawn per image.
  public let flipProbability: Double
  /// The indices trained on: all, or the fixed seeded subset.
  public let indices: [Int]
  /// The rows of each global batch this loader returns.
  public let shard: LoaderShard
  private let rows: [Int]
  public var batchesPerEpoch: Int { indices.count / batchSize }

  private let condition = NSCondition()
  private var ready: [(Batch, LoaderPosition)] = []
  private let prefetch: Int
  private var producerPosition: LoaderPosition
  private var stopped = false
  /// The position after the last batch `next()` returned.
  public private(set) var position: LoaderPosition

  public init(dataset: PackedDataset, batchSize: Int, seed: UInt64, flipProbability: Double, subsetFraction: Double? = nil,
              subsetSeed: UInt64 = 0, start: LoaderPosition = .init(epoch: 0, index: 0), prefetch: Int = 4,
              shard: LoaderShard = .all) throws {
    guard shard.count >= 1, shard.groups >= 1, (0..<shard.count).contains(shard.rank), batchSize % (shard.count * shard.groups) == 0 else {
      throw DatasetError("the batch size \(batchSize) does not split into \(shard.count) equal shards of \(shard.groups) micro-batches; choose a batch_size divisible by \(shard.count * shard.groups)")
    }
    self.shard = shard
    rows = shard.rows(batchSize: batchSize)
    self.dataset = dataset
    self.batchSize = batchSize
    self.seed = seed
    guard (0...1).contains(flipProbability) else {
      throw DatasetError("hflip_prob must be a probability between 0 and 1 (got \(flipProbability))")
    }
    self.flipProbability = flipProbability
    self.prefetch = max(1, prefetch)
    indices = BatchLoader.subset(count: dataset.count, fraction: subsetFraction, seed: subsetSeed)
    guard batchSize > 0, indices.count >= batchSize else {
      throw DatasetError("the batch size \(batchSize) is larger than the \(indices.count) images trained on; lower batch_size")
    }
    position = start
    producerPosition = start
    let thread = Thread { [weak self] in self?.produce() }
    thread.name = "maskdm.loader"
    thread.start()
  }

  deinit { stop() }

  /// Whether the draw `u` mirrors an image with probability `p`: a uniform number in [0, 1) made of
  /// u's bits, its leading bit u's lowest, at least 1 - p. (So at 0.5 u's lowest bit decides, the coin
  /// of earlier versions, and their runs at the usual hflip_prob 0.5 resume bit for bit.)
  public static func mirrors(_ u: UInt64, probability p: Double) -> Bool {
    let bits = ((u & 1) << 52) | ((u >> 1) & ((1 << 52) - 1))  // 53 bits, the lowest of u leading
    return Double(bits) * 0x1p-53 >= 1 - p
  }

  /// A fixed subset of `max(1, round(fraction * count))` indices, the same for every training seed.
  public static func subset(count: Int, fraction: Double?, seed: UInt64) -> [Int] {
    guard let fraction, fraction < 1 else { return Array(0..<count) }
    var all = Array(0..<count)
    var rng = SplitMix64(seed: seed ^ 0x5EED_5B5E_7000_0000)
    all.shuffle(using: &rng)
    return Array(all.prefix(max(1, Int((fraction * Double(count)).rounded())))).sorted()
  }

  /// The order of epoch `epoch`.
  func order(epoch: Int) -> [Int] {
    var rng = SplitMix64(seed: seed &+ UInt64(epoch) &* 0xA24B_AED4_963E_E407)
    var o = indices
    o.shuffle(using: &rng)
    return o
  }

  /// Builds this shard's rows of the batch at `p` (pure).
  public func batch(at p: LoaderPosition) -> Batch {
    let order = self.order(epoch: p.epoch)
    let (h, w, c) = (dataset.height, dataset.width, dataset.channels)
    let n = dataset.imageBytes
    var pixels = [UInt8](repeating: 0, count: rows.count * n)
    var labels: [Int32]? = dataset.labels == nil ? nil : []
    var rng = SplitMix64(seed: (seed ^ 0xF11F_F11F) &+ UInt64(p.epoch) &* 0x1000_0000_01 &+ UInt64(p.index))
    // Flips are drawn for every slot of the global batch so each shard sees the same ones.
    let mirrors = (0..<batchSize).map { _ in Self.mirrors(rng.next(), probability: flipProbability) }
    pixels.withUnsafeMutableBytes { out in
      for (j, row) in rows.enumerated() {
        let i = order[p.index * batchSize + row]
        let slot = UnsafeMutableRawBufferPointer(rebasing: out[(j * n)..<((j + 1) * n)])
        dataset.copyImage(i, into: slot)
        let mirror = mirrors[row]
        if mirror {
          for y in 0..<h {
            for x in 0..<(w / 2) {
              for k in 0..<c {
                slot.swapAt((y * w + x) * c + k, (y * w + (w - 1 - x)) * c + k)
              }
            }
          }
        }
        labels?.append(dataset.labels![i])
      }
    }
    return Batch(pixels: pixels, labels: labels, count: rows.count, height: h, width: w, channels: c)
  }

  func advance(_ p: LoaderPosition) -> LoaderPosition {
    p.index + 1 >= batchesPerEpoch ? LoaderPosition(epoch: p.epoch + 1, index: 0) : LoaderPosition(epoch: p.epoch, index: p.index + 1)
  }

  private func produce() {
    while true {
      condition.lock()
      while ready.count >= prefetch && !stopped { condition.wait() }
      if stopped { condition.unlock(); return }
      let p = producerPosition
      condition.unlock()
      let b = batch(at: p)
      condition.lock()
      ready.append((b, advance(p)))
      producerPosition = advance(p)
      condition.broadcast()
      condition.unlock()
    }
  }

  /// The next batch (waits for the background thread when it is behind).
  public func next() throws -> Batch {
    condition.lock()
    defer { condition.unlock() }
    while ready.isEmpty { condition.wait() }
    let (b, after) = ready.removeFirst()
    position = after
    condition.broadcast()
    return b
  }

  /// Stops the background thread (the thread keeps the loader alive until then: call it when done).
  public func stop() {
    condition.lock()
    stopped = true
    condition.broadcast()
    condition.unlock()
  }
}
