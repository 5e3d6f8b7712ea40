// The training loop shared by masked pre-training and fine-tuning: the same trainer, only the mask
// ratio and the initial weights differ (Sec. 3 of the paper). It owns the run directory while it
// runs, checkpoints atomically, resumes bit-identically and reports through typed events.
// In a data-parallel job every rank runs this loop on its shard of each batch (see TrainingStep);
// rank 0 alone owns the run directory: it writes the config, metrics, checkpoints, samples and
// summary, and emits the events. The other ranks only read (a checkpoint to resume from).
import Datasets
import Engine
import Foundation
import MaskDM
import NN

/// Trains one configuration in one run directory.
public final class Trainer {
  public let config: TrainConfig
  public let run: RunDirectory
  /// The data-parallel group (nil: this process alone).
  public let group: DistributedGroup?
  /// True on the process that writes files and reports (rank 0, or the only one).
  public var isRoot: Bool { (group?.rank ?? 0) == 0 }
  /// Records the run's curves and sample grids for TensorBoard in `RUN/tb/` (`--no-tensorboard`: false).
  public var tensorBoard = true

  public init(config: TrainConfig, runDirectory: URL, group: DistributedGroup? = nil) throws {
    try config.validate()
    try config.checkMemory()
    let world = group?.size ?? 1
    guard config.batchSize % (world * config.gradientAccumulateEvery) == 0 else {
      throw ConfigError("batch_size (\(config.batchSize)) must be divisible by the number of processes (\(world)) times gradient_accumulate_every (\(config.gradientAccumulateEvery)): every process trains on an equal share of each batch")
    }
    self.config = config
    self.run = RunDirectory(runDirectory)
    self.group = group
  }

  /// Trains until `train_steps` (or `train_seconds`) is reached. With `resume`, continues from the
  /// newest checkpoint; without, a directory that already holds one is refused.
  @discardableResult
  public func train(resume: Bool = false, events allEvents: @escaping (TrainingEvent) -> Void = { _ in }) throws -> RunSummary {
    let wallStart = Date()
    let root = isRoot
    let board = root && tensorBoard ? TensorBoardLog(runDirectory: run.url) : nil
    var boardFailed = false
    let events: (TrainingEvent) -> Void = { event in
      guard root else { return }
      if let board {
        board.record(event)
        if let failure = board.failure, !boardFailed {
          boardFailed = true
          allEvents(.notice("TensorBoard files are no longer written (\(failure)); training goes on"))
        }
      }
      allEvents(event)
    }
    var lock: RunLock? = nil
    if root {
      try run.checkOwnership()
      try run.create()
      lock = try run.lock()
    }
    defer { lock?.release() }
    if root { removeLeftovers(events) }
    let (existing, changes) = try checkpointToResume(resume: resume, events: events)
    if root { try writeAtomically(Data(config.yaml().utf8), to: run.config) }

    return try Engine.run {
      let device = try Engine.select(config.device)
      try Memory.resetPeak()
      try agreeOnConfiguration()
      let dataset = try prepareData(events)
      let model = try MaskedUViT(config.network, key: PRNGKey(seed: config.seed))
      var (state, progress, resumed) = try initialState(model: model, existing: existing, device: device, events: events)
      try agreeOnStartingStep(progress.step)
      try takeRootsWeights(&state, model: model)
      if root {
        // What a stopped process wrote after the checkpoint it resumes from is redone: its rows go.
        try run.truncateMetrics(after: progress.step)
        if !changes.isEmpty {
          try run.appendMetrics(.resumed(step: progress.step,
                                         changed: Dictionary(uniqueKeysWithValues: changes.map { ($0.key, "\($0.old) -> \($0.new)") })))
          events(.notice("resuming at step \(progress.step) with \(changes.map(\.description).joined(separator: ", "))"))
        }
      }
      let session = try TrainingSession(trainer: self, model: model, dataset: dataset, state: state, progress: progress,
                                        resumed: resumed, events: events)
      defer { session.loader.stop() }
      events(.started(step: progress.step, totalSteps: config.trainSteps, resumed: resumed,
                      parameters: state.parameterCount, device: device.rawValue, runDirectory: run.url))
      if resumed { try session.completeResumedCheckpoint() }
      while session.budgetLeft { try session.trainOneStep() }
      (state, progress) = (session.state, session.progress)
      if session.lastCheckpoint != progress.step { try session.checkpoint() }
      let summary = RunSummary(
        steps: progress.step, finalLoss: progress.lastLoss, trainSeconds: progress.trainSeconds, deviceSeconds: progress.deviceSeconds,
        wallSeconds: Date().timeIntervalSince(wallStart),
        imagesPerSecond: progress.trainSeconds > 0 ? Double(progress.imagesSeen) / progress.trainSeconds : 0,
        warmupSeconds: progress.warmupSeconds ?? 0, peakMemoryBytes: Memory.peak, device: device.rawValue,
        runDirectory: run.url.path, lossCurve: session.lossCurve, provenance: .current(device: device, group: group))
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      if root { try writeAtomically(try encoder.encode(summary), to: run.summary) }
      // Every rank leaves after rank 0's files are complete (a study then sees the same finished run).
      try group?.barrier()
      events(.finished(summary))
      return summary
    }
  }

  /// The checkpoint to continue from (nil: a fresh start) and the settings that changed since the
  /// run started. Refuses a directory that holds a checkpoint unless `resume`, and a resume that
  /// changes a setting `ResumePolicy` does not allow. A damaged newest checkpoint (its files do not
  /// match their checksums) is moved aside and the newest intact one taken, and a notice says so.
  func checkpointToResume(resume: Bool, events: (TrainingEvent) -> Void) throws -> (VerifiedCheckpoint?, [ResumePolicy.Change]) {
    guard run.hasCheckpoint else { return (nil, []) }
    guard resume else {
      throw ConfigError("\(run.url.path) already holds a checkpoint; pass --resume to continue it or choose another directory")
    }
    var changes: [ResumePolicy.Change] = []
    if let old = try? String(contentsOf: run.config, encoding: .utf8), old != config.yaml() {
      let started: TrainConfig
      do { started = try TrainConfig(yaml: old, source: run.config.path) } catch {
        throw ConfigError("the configuration \(run.config.path) this run was started with cannot be read (\(error)); "
                            + "restore it, or start a new --out directory")
      }
      changes = try ResumePolicy.check(resuming: started, with: config, runDirectory: run.url)
    }
    let (intact, damaged) = run.newestIntactCheckpoint()
    guard let intact else { throw CheckpointDamage.noneIntact(damaged, in: run) }
    if config.trainSeconds == nil, config.trainSteps < intact.state.step {
      throw ConfigError("\(run.url.path) is at step \(intact.state.step), and train_steps \(config.trainSteps) is below it: a run "
                          + "trains on, never back; give train_steps of at least \(intact.state.step) (or train a new --out directory)")
    }
    var moved: [String] = []
    if isRoot {
      for d in damaged { moved.append("checkpoints/" + (try run.moveAside(d.checkpoint, prefix: "damaged"))) }
      // As an uninterrupted run leaves it: `latest` at the checkpoint resumed from (a process killed
      // between moving a checkpoint into place and pointing at it left it behind) and `keep` of them.
      if run.latest.resolvingSymlinksInPath() != intact.directory.resolvingSymlinksInPath() { try run.pointLatest(at: intact.directory) }
      for old in run.checkpointsNewestFirst.dropFirst(Checkpoint.keep) { try? FileManager.default.removeItem(at: old) }
    }
    if !damaged.isEmpty {
      events(.notice(damaged.map(\.description).joined(separator: "; ") + "; resuming from \(intact.directory.lastPathComponent) "
                       + "(step \(intact.state.step)), the newest intact checkpoint"
                       + (moved.isEmpty ? "" : " (the damaged one is kept as \(moved.joined(separator: ", ")))")))
    }
    return (intact, changes)
  }

  /// Removes what a killed process of this run left half-written: checkpoint folders it was writing
  /// (`checkpoints/.step-N.tmp`) and the staging copies of the run's small files. Called with the
  /// run's lock held, so no other process is writing them.
  func removeLeftovers(_ events: (TrainingEvent) -> Void) {
    let fm = FileManager.default
    var removed: [String] = []
    for name in (try? fm.contentsOfDirectory(atPath: run.checkpoints.path)) ?? [] where name.hasPrefix(".step-") && name.hasSuffix(".tmp") {
      if (try? fm.removeItem(at: run.checkpoints.appendingPathComponent(name))) != nil { removed.append("checkpoints/\(name)") }
    }
    for file in [run.config, run.metrics, run.summary] { removed += StagingName.removeStale(for: file) }
    if !removed.isEmpty {
      events(.notice("removed \(removed.joined(separator: ", ")) in \(run.url.path): left half-written by a process of this run that was stopped"))
    }
  }

  /// Runs `body` on every rank and agrees on success: set-up can fail on one rank alone (rank 0
  /// prepares the data; a file may be unreadable on one host), and no rank may be left waiting in a
  /// collective.
  func together(_ what: String, _ body: () throws -> Void) throws {
    var failure: Error? = nil
    do { try body() } catch { failure = error }
    if let group, group.size > 1, try !group.allSucceeded(failure == nil), failure == nil {
      throw ConfigError("another process of the distributed job failed while \(what); its error is in its output")
    }
    if let failure { throw failure }
  }

  /// The packed dataset: rank 0 prepares (and caches) it first; the others then read the cache.
  func prepareData(_ events: @escaping (TrainingEvent) -> Void) throws -> PackedDataset {
    var packed: PackedDataset? = nil
    let prepare = {
      packed = try resolveDataset(self.config, progress: { events(.preparingData(done: $0, total: $1)) },
                                  notice: { events(.notice($0)) })
    }
    try together("preparing the data", isRoot ? prepare : {})
    try together("reading the data", isRoot ? {} : prepare)
    return packed!
  }

  /// The state to start from: the checkpoint being resumed, the initial weights of
  /// `pretrained_model_ckpt`, or the model's fresh initialisation. The model holds the parameters after.
  func initialState(model: MaskedUViT, existing: VerifiedCheckpoint?, device: Device,
                    events: (TrainingEvent) -> Void) throws -> (TrainState, RunProgress, resumed: Bool) {
    var state = try TrainState(parameters: model.parameters())
    var progress = RunProgress()
    progress.seed = config.seed
    progress.device = device.rawValue
    try together("loading the weights") {
      if let existing {
        let checkpoint = try Checkpoint.load(existing)
        (state, progress) = (try TrainState(checkpoint: checkpoint), checkpoint.state)
      } else if !config.pretrainedModelCkpt.isEmpty {
        let source = URL(fileURLWithPath: config.pretrainedModelCkpt)
        let weights = try initialWeights(from: source, notice: { events(.notice($0)) })
        let report = try model.load(weights, strict: false)
        // A file none of whose names is a weight of this model would leave it at its random
        // initialisation: training from scratch while the user believes it fine-tunes.
        guard report.unexpected.count < weights.count else {
          throw ConfigError("--init-from \(source.path): none of its \(weights.count) tensors is a weight of this model (it holds \(weights.keys.sorted().prefix(3).joined(separator: ", "))…, the model has \(report.missing.prefix(3).joined(separator: ", "))…); give a run directory or a .safetensors file written by maskdm (`maskdm convert` turns the authors' .pt checkpoints into one)")
        }
        events(.initialized(from: source, missing: report.missing, unexpected: report.unexpected))
        state = try TrainState(parameters: model.parameters())
      }
    }
    try model.update(state.parameters)
    return (state, progress, existing != nil)
  }

  /// Every rank must train the configuration rank 0 trains, with its seed: compared before anything
  /// is built, so that another model shape cannot deadlock the first gradient sum. Host-local paths
  /// (the data folder, the initial weights) may differ between hosts and are not compared.
  func agreeOnConfiguration() throws {
    guard let group, group.size > 1 else { return }
    var shared = config
    (shared.dataset.path, shared.pretrainedModelCkpt) = ("", "")
    let identity = fnv1aHex(shared.yaml())
    // Each number is sent as two 32-bit halves: a Double holds them exactly.
    func agree(_ value: UInt64) throws -> UInt64 {
      let high = try group.broadcastFromRoot(Double(value >> 32)), low = try group.broadcastFromRoot(Double(value & 0xffff_ffff))
      return UInt64(high) << 32 | UInt64(low)
    }
    let rootSeed = try agree(config.seed)
    let rootIdentity = try agree(UInt64(identity.prefix(16), radix: 16) ?? 0)
    let mine = UInt64(identity.prefix(16), radix: 16) ?? 0
    let problem = rootSeed != config.seed ? "its seed is \(config.seed), process 0's is \(rootSeed)"
      : rootIdentity != mine ? "its resolved configuration differs from process 0's (identity \(String(mine, radix: 16)) against \(String(rootIdentity, radix: 16)))"
      : nil
    guard try group.allSucceeded(problem == nil) else {
      if let problem {
        throw ConfigError("process \(group.rank) of \(group.size) does not agree with process 0: \(problem); every process of a "
                            + "data-parallel job must run the same command with the same configuration (only paths may differ)")
      }
      throw ConfigError("another process of the \(group.size) does not agree with process 0's configuration or seed; its error is in its output")
    }
  }

  /// The weights, EMA and optimizer moments of rank 0 on every rank (each rank contributes zeros but
  /// rank 0, so the sum is rank 0's exactly): ranks start identical by construction, whatever their
  /// initialisation or checkpoint read gave them.
  func takeRootsWeights(_ state: inout TrainState, model: MaskedUViT) throws {
    guard let group, group.size > 1 else { return }
    func fromRoot(_ tensors: [Tensor]) throws -> [Tensor] {
      let mine = group.rank == 0 ? tensors : try tensors.map { try Tensor.zeros($0.shape, dtype: $0.dtype) }
      return try group.allSum(mine, dtype: .float32)
    }
    state.params = try fromRoot(state.params)
    state.ema = try fromRoot(state.ema)
    state.m = try fromRoot(state.m)
    state.v = try fromRoot(state.v)
    try group.waiting(in: "the weights sent from process 0") { try eval(state.params + state.ema + state.m + state.v) }
    try model.update(state.parameters)
  }

  /// Every rank must start from the same step: a rank that sees another checkpoint (a run directory
  /// not on a shared file system) would silently train different weights. Compared with rank 0's
  /// step and agreed on by all, so that every rank stops (a sum of the steps could match one rank's
  /// step times the world size while the steps differ).
  func agreeOnStartingStep(_ step: Int) throws {
    guard let group, group.size > 1 else { return }
    let same = try group.broadcastFromRoot(Double(step)) == Double(step)
    guard try group.allSucceeded(same) else {
      throw ConfigError("the \(group.size) processes start from different steps (this one: \(step)); the run directory \(run.url.path) must be the same shared directory for every process")
    }
  }

  /// Samples `num_samples` images with the EMA weights and writes `samples/step-N.png`; a
  /// class-conditional model's images cycle through the classes (image i of class i mod num_classes).
  func writeSampleGrid(model: MaskedUViT, diffusion: GaussianDiffusion, state: TrainState, step: Int) throws -> URL {
    try model.update(state.emaParameters)
    defer { try? model.update(state.parameters) }
    let c = config.network
    let labels = c.numClasses > 0 ? try Tensor((0..<config.numSamples).map { Int32($0 % c.numClasses) }) : nil
    let images = try diffusion.sample(
      model: { x, t in try model(x, timesteps: t, visible: nil, labels: labels) }, shape: [config.numSamples, c.channels, c.imageSize, c.imageSize],
      sampler: config.sampler(), key: PRNGKey(seed: config.seed &+ 0x5A4D_504C), progress: nil)
    let url = run.samples.appendingPathComponent(String(format: "step-%08d.png", step))
    try writeGrid(images, to: url)
    return url
  }
}

/// The key of step `step`: a pure function of the seed and the step, so a resumed run draws the same
/// timesteps, noise and masks as one that never stopped.
func stepSeed(_ seed: UInt64, _ step: Int) -> UInt64 {
  var z = seed &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15
  z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
  z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
  return z ^ (z >> 31)
}
