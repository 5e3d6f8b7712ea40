// One start (or resume) of a run, from its first step to its budget: the data loader, the traced
// step and the state it advances, and what is due after each step (a loss line, a checkpoint, a
// sample grid). `Trainer.train` sets a session up and finishes it; the session owns the loop.
import Datasets
import Engine
import Foundation
import MaskDM

/// The loop of one training run on this process.
final class TrainingSession {
  let trainer: Trainer
  let model: MaskedUViT
  let diffusion: GaussianDiffusion
  let loader: BatchLoader
  let step: TrainingStep
  let emaSchedule: EMASchedule
  let events: (TrainingEvent) -> Void
  var state: TrainState
  var progress: RunProgress
  /// The step of the newest checkpoint on disk (nil: none yet in this run).
  var lastCheckpoint: Int?
  /// (step, loss) of every logged step, across resumes.
  var lossCurve: [[Double]]
  /// Images, steps and seconds since the last loss line (its throughput).
  private var window: (images: Int, steps: Int, seconds: Double) = (0, 0, 0)
  /// False until the first step after a start has run (its tracing is not training time).
  private var warmedUp = false

  var config: TrainConfig { trainer.config }
  var run: RunDirectory { trainer.run }
  var worldSize: Int { trainer.group?.size ?? 1 }

  init(trainer: Trainer, model: MaskedUViT, dataset: PackedDataset, state: TrainState, progress: RunProgress, resumed: Bool,
       events: @escaping (TrainingEvent) -> Void) throws {
    let config = trainer.config
    try Self.checkLabels(dataset, numClasses: config.network.numClasses)
    self.trainer = trainer
    self.model = model
    self.state = state
    self.progress = progress
    self.events = events
    diffusion = try config.diffusion()
    loader = try BatchLoader(
      dataset: dataset, batchSize: config.batchSize, seed: config.seed, flipProbability: config.dataset.hflipProb,
      subsetFraction: config.dataset.fraction < 1 ? config.dataset.fraction : nil, subsetSeed: config.dataset.subsetSeed,
      start: LoaderPosition(epoch: progress.loaderEpoch, index: progress.loaderIndex),
      shard: LoaderShard(rank: trainer.group?.rank ?? 0, count: trainer.group?.size ?? 1, groups: config.gradientAccumulateEvery))
    step = try TrainingStep(model: model, diffusion: diffusion, config: config, names: state.names, mask: try config.maskSpec(),
                            group: trainer.group)
    emaSchedule = EMASchedule(decay: config.emaDecay, updateEvery: config.emaUpdateEvery)
    lastCheckpoint = resumed ? progress.step : nil
    let resumedAt = progress.step
    lossCurve = trainer.run.readMetrics().compactMap { row in
      guard case let .step(s, l, _, _, _, _) = row else { return nil }
      // Losses are float32 values; Foundation's JSON reader can miss the last digit of a double
      // (0.7459206581115723 read as 0.745920658111572), and rounding to float32 undoes that.
      return s <= resumedAt ? [Double(s), Double(Float(l))] : nil
    }
  }

  /// A class-conditional model needs labelled data whose labels are its classes: otherwise every
  /// step would silently use one embedding.
  static func checkLabels(_ dataset: PackedDataset, numClasses: Int) throws {
    guard numClasses > 0 else { return }
    guard let labels = dataset.labels else {
      throw ConfigError("network.num_classes is \(numClasses) but the dataset \(dataset.directory.path) has no labels; train on labelled data (fashion-mnist, vggface2 identity folders, synthetic) or set num_classes: -1 for an unconditional model")
    }
    if let bad = labels.first(where: { $0 < 0 || Int($0) >= numClasses }) {
      throw ConfigError("the dataset has label \(bad), outside the model's classes 0…\(numClasses - 1); set network.num_classes to at least \(labels.max()! + 1)")
    }
  }

  /// True while neither `train_steps` nor `train_seconds` is reached.
  var budgetLeft: Bool {
    guard progress.step < config.trainSteps else { return false }
    if let limit = config.trainSeconds { return progress.trainSeconds < limit }
    return true
  }

  /// Trains one step, then logs, checkpoints and samples when due.
  func trainOneStep() throws {
    let batch = try loader.next()
    let started = DispatchTime.now().uptimeNanoseconds
    let images = try batch.pixels.withUnsafeBytes {
      try Tensor(bytes: $0, shape: [batch.count, batch.height, batch.width, batch.channels], dtype: .uint8)
    }
    // A class-conditional model learns from the labels (checked against num_classes at the start).
    let labels = config.network.numClasses > 0 ? try Tensor(batch.labels!) : nil
    let number = progress.step + 1
    let lr = learningRate(base: config.lr, step: number, warmupSteps: config.warmupSteps)
    let decay = emaSchedule.action(count: progress.emaUpdates)
    let scalars = try Tensor((step.adam.scalars(lr: lr, step: number) + [decay ?? 1]).map(Float.init))
    let (next, lossTensor, gradNorm) = try step(state, images: images, labels: labels, key: try PRNGKey(seed: stepSeed(config.seed, number)), scalars: scalars,
                                      updateEMA: decay != nil)
    if let group = trainer.group {
      try group.waiting(in: "the gradient sum of step \(number)") { try eval(next.all + [lossTensor]) }
    } else {
      try eval(next.all + [lossTensor])
    }
    let loss = try lossTensor.item()
    guard loss.isFinite, loss <= divergenceLossLimit else { throw try stopDiverged(step: number, loss: loss) }
    var seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    // A time budget must end every rank at the same step: all take rank 0's clock.
    if config.trainSeconds != nil, let group = trainer.group { seconds = try group.broadcastFromRoot(seconds) }
    state = next
    record(step: number, seconds: seconds, images: batch.count * worldSize, loss: loss)
    if number % config.logEvery == 0 || number == config.trainSteps || !budgetLeft {
      try log(step: number, loss: loss, lr: lr, gradNorm: try gradNorm.item())
    }
    // A snapshot before the checkpoint of the same step: a run resumed from that checkpoint never
    // lacks the snapshots of the steps before it.
    if let every = config.snapshotEvery, number % every == 0 || !budgetLeft { try snapshot(step: number) }
    if number % config.saveAndSampleEvery == 0 || !budgetLeft { try checkpointAndSample(step: number) }
  }

  /// Keeps the EMA weights of this step, with the training seconds so far in the file's metadata.
  private func snapshot(step number: Int) throws {
    guard trainer.isRoot else { return }
    let url = run.snapshot(step: number)
    let meta = ["format": "maskdm-snapshot", "step": "\(number)", "train_seconds": "\(progress.trainSeconds)",
                "device_seconds": "\(progress.deviceSeconds)"]
    do {
      try FileManager.default.createDirectory(at: run.snapshots, withIntermediateDirectories: true)
      try writeAtomically(SafetensorsFile(tensors: state.emaParameters, metadata: meta).encoded(), to: url)
    } catch {
      throw FileSystemError("could not keep the EMA snapshot of step \(number) in \(url.path): \(error)")
    }
    try run.appendMetrics(.snapshot(step: number, path: "snapshots/\(url.lastPathComponent)"))
  }

  /// Counts a finished step in the run's progress (the first step after a start is warm-up time).
  private func record(step number: Int, seconds: Double, images: Int, loss: Double) {
    progress.step = number
    progress.emaUpdates += 1
    progress.loaderEpoch = loader.position.epoch
    progress.loaderIndex = loader.position.index
    if warmedUp {
      progress.trainSeconds += seconds
      progress.deviceSeconds += seconds
      progress.imagesSeen += images
      window.images += images
      window.steps += 1
      window.seconds += seconds
    } else {
      progress.warmupSeconds = (progress.warmupSeconds ?? 0) + seconds
      warmedUp = true
    }
    progress.lastLoss = loss
  }

  /// A loss line: metrics.jsonl, the loss curve and a `.step` event with throughput and ETA.
  private func log(step number: Int, loss: Double, lr: Double, gradNorm: Double) throws {
    let rate = window.seconds > 0 ? Double(window.images) / window.seconds : 0
    let stepSeconds = window.steps > 0 ? window.seconds / Double(window.steps) : nil
    window = (0, 0, 0)
    let perStep = progress.trainSeconds / Double(max(number, 1))
    var eta = Double(config.trainSteps - number) * perStep
    if let limit = config.trainSeconds { eta = min(eta, max(limit - progress.trainSeconds, 0)) }
    lossCurve.append([Double(number), loss])
    if trainer.isRoot {
      try run.appendMetrics(.step(step: number, loss: loss, lr: lr, gradNorm: gradNorm, imagesPerSecond: rate,
                                  trainSeconds: progress.trainSeconds))
    }
    events(.step(StepReport(step: number, totalSteps: config.trainSteps, loss: loss, learningRate: lr,
                            imagesPerSecond: rate, trainSeconds: progress.trainSeconds, etaSeconds: eta,
                            budgetSeconds: config.trainSeconds, gradNorm: gradNorm, stepSeconds: stepSeconds)))
  }

  /// A checkpoint, and a sample grid from the EMA weights when `num_samples` asks for one.
  private func checkpointAndSample(step number: Int) throws {
    try checkpoint()
    guard config.numSamples > 0, trainer.isRoot else { return }
    let url = try trainer.writeSampleGrid(model: model, diffusion: diffusion, state: state, step: number)
    try run.appendMetrics(.sample(step: number, path: url.lastPathComponent))
    events(.sample(step: number, url: url))
  }

  /// Completes the checkpoint a run resumes from, as an uninterrupted run would have: its row in
  /// metrics.jsonl and its sample grid when one was due (the stopped process may have been killed
  /// between the checkpoint and them). The grid is a function of the EMA weights: the same image.
  func completeResumedCheckpoint() throws {
    guard trainer.isRoot, progress.step > 0 else { return }
    let number = progress.step
    let rows = run.readMetrics()
    func recorded(_ event: String) -> Bool { rows.contains { $0.name == event && $0.step == number } }
    if !recorded("checkpoint") { try run.appendMetrics(.checkpoint(step: number)) }
    guard config.numSamples > 0, number % config.saveAndSampleEvery == 0 || !budgetLeft else { return }
    let grid = run.samples.appendingPathComponent(String(format: "step-%08d.png", number))
    let hasRow = recorded("sample")
    guard !hasRow || !FileManager.default.fileExists(atPath: grid.path) else { return }
    let url = try trainer.writeSampleGrid(model: model, diffusion: diffusion, state: state, step: number)
    if !hasRow { try run.appendMetrics(.sample(step: number, path: url.lastPathComponent)) }
    events(.sample(step: number, url: url))
  }

  /// Writes a checkpoint of the current state (rank 0; the others only note the step).
  func checkpoint() throws {
    lastCheckpoint = progress.step
    guard trainer.isRoot else { return }
    let url = try state.checkpoint(progress).save(in: run)
    try run.appendMetrics(.checkpoint(step: progress.step))
    events(.checkpoint(step: progress.step, url: url))
  }
}
