// The words of each ablatable part, sorted by what they prove. A *concept* names what a part is about
// ("mask rate", "weight averaging") and is enough on its own; a *hint* is a generic word that fits
// many parts ("rate", "length", "size") and only supports other evidence; *companions* are generic
// words that name a part only together (a quantity next to a masking word is the mask rate, a
// duration next to the first stage is the pre-training length); a *per-unit* phrase names a quantity
// by its unit ("images per step" is the batch size). PartRecognition.swift weighs them.
import Foundation
import MaskDM
import Training

/// The stage of the two-stage schedule a wording points at.
enum StageRole: String, CaseIterable {
  case first = "the first (masked) stage"
  case second = "the stage that follows (fine-tuning)"

  /// Ordinal and role words for each stage ("in the second stage", "the stage that follows",
  /// "downstream"); matched on `normalisedWords`, where "pre-training" is one word.
  var phrases: [String] {
    switch self {
    case .first:
      return ["pretrain*", "masked pretrain*", "masked stage", "masked phase", "mdsm stage", "mdsm phase", "first stage", "first phase",
              "stage one", "stage 1", "phase one", "phase 1", "initial stage", "initial phase", "earlier stage", "early stage",
              "first training stage", "first training phase", "primer", "source data*", "source domain"]
    case .second:
      return ["finetun*", "second stage", "second phase", "stage two", "stage 2", "phase two", "phase 2", "stage that follows",
              "phase that follows", "following stage", "following phase", "subsequent stage", "subsequent phase", "later stage",
              "later phase", "final stage", "final phase", "last stage", "second training stage", "unmasked stage",
              "unmasked phase", "dsm stage", "downstream", "target data*", "target set", "target domain", "target stage",
              "target task", "target distribution", "target images", "the target"]
    }
  }
}

/// Generic words, in the groups that companions combine. None names a part alone.
enum WordGroup {
  /// How much of something (fractions and counts).
  static let quantity = ["amount", "number", "quantity", "size", "share", "subset", "fraction", "proportion", "percentage",
                         "percent", "portion", "how much", "how many", "count", "ratio", "rate", "level", "degree"]
  /// The quantities that are fractions of a whole (not "size").
  static let share = quantity.filter { $0 != "size" }
  /// How long something runs.
  static let duration = ["length", "duration", "how long", "long", "time", "budget", "steps", "iterations", "epochs", "compute",
                         "allocation", "split", "spent", "spend*", "devoted", "allocated", "allotted", "share", "fraction",
                         "proportion", "portion", "amount", "part"]
  /// What is hidden from the model.
  static let masking = maskWords + ["hidden", "hid*", "drop*", "occlu*", "invisible", "covered"]
  /// "mask" and its forms (not "maskdm").
  static let maskWords = ["mask", "masks", "masked", "masking"]
  /// Training data.
  static let data = ["data*", "images", "examples", "samples", "training set", "target set", "set", "corpus", "subset"]
  /// How big a shape is.
  static let extent = ["size", "side", "width", "dimension*", "extent", "length"]
  /// Words about an ablation rather than a part ("effect of the mask rate"): the head is what follows them.
  static let meta: Set<Substring> = ["effect", "effects", "impact", "role", "importance", "contribution", "influence", "ablation",
                                     "ablating", "removing", "removal", "use", "usage", "choice", "presence", "addition", "adding",
                                     "the", "a", "an", "of", "on", "its", "our"]
  /// The words that begin what qualifies a description's head ("mask rate *of the first stage*").
  static let qualifierMarkers: Set<Substring> = ["of", "in", "for", "during", "used", "at", "before", "after", "on", "to",
                                                 "within", "from", "with", "by", "when", "while", "across", "between", "under"]
}

/// A quantity named by its unit: `quantities` per `units` ("images per step").
struct PerUnitRule {
  var quantities: [String]
  /// The unit after "per", its articles left out ("side of block*" matches "per side of a block").
  var units: [String]
  var part: PlanPart
}

let perUnitRules: [PerUnitRule] = [
  PerUnitRule(quantities: ["images", "examples", "samples", "pictures", "inputs"],
              units: ["step", "iteration", "update", "batch", "optimizer step", "gradient step", "training step"], part: .config("batch_size")),
  PerUnitRule(quantities: ["steps", "evaluations", "nfe", "nfes", "iterations", "calls"],
              units: ["sample", "image", "generated image", "generation", "draw", "output", "generated sample"], part: .sampler),
  PerUnitRule(quantities: ["patches", "tokens"], units: ["side of block*", "block side", "block*"], part: .blockSize),
  PerUnitRule(quantities: ["patches", "tokens"], units: ["side of window", "window side", "window", "side of crop*", "crop*",
                                                         "side of visible window", "visible window"], part: .cropSize),
  PerUnitRule(quantities: ["pixels"], units: ["side of patch*", "patch side", "patch*", "token*", "side of token*"],
              part: .config("network.patch_size")),
  PerUnitRule(quantities: ["heads"], units: ["layer", "block", "attention layer"], part: .config("network.encoder_heads")),
  PerUnitRule(quantities: ["channels", "features", "dimensions"], units: ["token*", "patch*"], part: .config("network.encoder_embed_dim")),
]

/// The vocabulary of one part.
struct PartVocabulary {
  var part: PlanPart
  /// Phrases that name what the part is about: each is evidence specific to it.
  var concepts: [(String, Double)]
  /// Generic words that support a concept, never enough alone (not counted inside a concept of any part).
  var hints: [(String, Double)] = []
  /// Phrases that mean something else: each found subtracts its weight.
  var against: [(String, Double)] = []
  /// Groups of generic words that together name the part: one word of each, at different places.
  var companions: [[String]] = []
  /// The stage the part lives in: a wording that points only at the other stage counts against it.
  var stage: StageRole? = nil
  /// Companions name the part only next to a word of its stage (a "length" is the pre-training
  /// length only when the first stage is named).
  var companionsNeedStage = false
  /// The part is a stage itself (REMOVE the pre-training): its stage is what the description's head names.
  var isStage = false
  /// Replacements only this part takes ("ddim 50", "cosine", "block 4").
  var specificValue: ((String) -> Bool)? = nil
  /// The action the part needs (the stage parts are REMOVE only).
  var action: AblationAction? = nil
}

/// Every part's vocabulary. Weights: 5 for the part's own name, 4 for a synonym, 1-2 for a hint.
let partVocabularies: [PartVocabulary] = stageVocabularies + maskVocabularies + dataVocabularies + diffusionVocabularies
  + knobVocabularies

private let stageVocabularies: [PartVocabulary] = [
  PartVocabulary(part: .positionEmbedding,
                 concepts: [("position embedding*", 5), ("positional embedding*", 5), ("position encoding*", 5),
                            ("positional encoding*", 5), ("positional information", 4), ("position information", 4),
                            ("pos embed*", 4), ("information h", 4), ("location information", 4), ("spatial position*", 4)],
                 hints: [("position*", 2), ("embedding", 1), ("h", 1)]),
  PartVocabulary(part: .schedule,
                 concepts: [("two stage", 4), ("single stage", 4), ("one stage", 4), ("two phase", 4), ("single phase", 4),
                            ("training framework", 4), ("training schedule", 4), ("training pipeline", 4), ("stage structure", 4),
                            ("training procedure", 3), ("staged training", 4)],
                 hints: [("schedule", 1), ("stage*", 1), ("mdsm", 1), ("dsm", 1)],
                 specificValue: { (try? ScheduleChoice.parse($0)) != nil }),
  PartVocabulary(part: .pretraining, concepts: [], hints: [("mdsm", 1)], stage: .first, isStage: true, action: .remove),
  PartVocabulary(part: .finetuning, concepts: [], hints: [("dsm", 1)], stage: .second, isStage: true, action: .remove),
  PartVocabulary(part: .pretrainShare,
                 concepts: [("budget split", 4), ("budget allocation", 4), ("split of the budget", 4), ("allocation of the budget", 4),
                            ("compute split", 4), ("switch point", 4), ("switching point", 4), ("when to switch", 4)],
                 hints: [("length", 1), ("duration", 1), ("budget", 1), ("how long", 1)],
                 against: WordGroup.masking.map { ($0, 2) } + [("data*", 3)],
                 companions: [WordGroup.duration], stage: .first, companionsNeedStage: true,
                 specificValue: { isBudgetAmount($0) }),
]

private let maskVocabularies: [PartVocabulary] = [
  PartVocabulary(part: .maskRate,
                 concepts: [("mask rate", 5), ("mask ratio", 5), ("masking rate", 5), ("masking ratio", 5), ("masked fraction", 4),
                            ("masking fraction", 4), ("mask fraction", 4), ("masking percentage", 4), ("mask percentage", 4),
                            ("masking proportion", 4), ("masking level", 4), ("masking probability", 4), ("mask probability", 4),
                            ("masked ratio", 4), ("masking amount", 4), ("amount of masking", 4)],
                 hints: [("rate", 1), ("ratio", 1)] + WordGroup.maskWords.map { ($0, 1) },
                 companions: [WordGroup.share, WordGroup.masking], stage: .first),
  PartVocabulary(part: .maskType,
                 concepts: [("mask type", 5), ("masking type", 5), ("type of mask*", 5), ("kind of mask*", 5), ("masking strategy", 5),
                            ("mask strategy", 5), ("masking scheme", 5), ("mask scheme", 5), ("mask shape", 4), ("mask kind", 5),
                            ("masking pattern", 4), ("mask pattern", 4), ("shape of the mask*", 4), ("masking method", 4),
                            ("masking style", 4), ("masking approach", 4), ("mask configuration", 3), ("masking granularity", 4),
                            ("way of masking", 4), ("how the image is masked", 4)],
                 hints: [("strategy", 1), ("pattern", 1), ("shape", 1)] + WordGroup.maskWords.map { ($0, 1) },
                 stage: .first, specificValue: { maskKindValue($0) != nil }),
  PartVocabulary(part: .blockSize,
                 concepts: [("block size", 5), ("size of the block*", 5), ("size of each block", 5), ("block side", 4),
                            ("block dimension*", 4), ("block width", 4)],
                 hints: [("block*", 1)], companions: [WordGroup.extent, ["block*"]], stage: .first),
  PartVocabulary(part: .cropSize,
                 concepts: [("crop size", 5), ("window size", 5), ("crop window", 4), ("crop side", 4), ("size of the crop*", 5),
                            ("size of the window", 5), ("visible window", 4), ("size of the visible window", 5)],
                 hints: [("crop*", 1), ("window", 1)], companions: [WordGroup.extent, ["crop*", "window"]], stage: .first),
]

private let dataVocabularies: [PartVocabulary] = [
  PartVocabulary(part: .pretrainDataset,
                 concepts: [("pretrain* data*", 5), ("pretraining set", 5), ("pretraining corpus", 5), ("pretraining images", 4),
                            ("source data*", 4), ("source domain", 4), ("data of the first stage", 5)],
                 hints: [("data*", 1)], companions: [WordGroup.data], stage: .first, companionsNeedStage: true,
                 specificValue: { isKnownDatasetName($0) }),
  PartVocabulary(part: .finetuneFraction,
                 concepts: [("limited data", 5), ("data fraction", 5), ("data size", 4), ("amount of data", 4), ("dataset size", 4),
                            ("training set size", 4), ("size of the training set", 4), ("low data", 4), ("data regime", 4),
                            ("data scarcity", 4), ("few shot", 4), ("data budget", 4), ("finetun* data* fraction", 5),
                            ("data efficiency", 4), ("fraction of the data", 4)],
                 hints: [("data*", 1), ("subset", 1)], against: [("pretrain* data*", 4)],
                 companions: [WordGroup.quantity, WordGroup.data], stage: .second),
]

private let diffusionVocabularies: [PartVocabulary] = [
  PartVocabulary(part: .noiseSchedule,
                 concepts: [("noise schedule", 5), ("beta schedule", 5), ("variance schedule", 5), ("diffusion schedule", 4),
                            ("noise scheduler", 5), ("schedule of the betas", 4), ("schedule of the noise", 4), ("betas", 3)],
                 hints: [("noise*", 1), ("schedule", 1)],
                 specificValue: { value in BetaSchedule.allCases.contains { contains(normalisedWords(value), $0.rawValue) } }),
  PartVocabulary(part: .sampler,
                 concepts: [("sampler", 5), ("sampling method", 5), ("sampling algorithm", 5), ("sampling procedure", 4),
                            ("sampling scheme", 4), ("solver", 4), ("sampling steps", 4), ("sampling chain", 4),
                            ("denoising chain", 4), ("denoising steps", 4), ("reverse process", 3), ("generation steps", 4)],
                 hints: [("sampling", 2)],
                 specificValue: { samplerValue($0)?.named == true }),
  PartVocabulary(part: .objective,
                 concepts: [("prediction target", 5), ("parameterization", 5), ("parametrization", 5), ("prediction type", 5),
                            ("model predicts", 4), ("network predicts", 4), ("network outputs", 4), ("model outputs", 4),
                            ("output parameterization", 5), ("regression target", 4), ("predicted quantity", 4),
                            ("what to predict", 4), ("denoiser output", 4)],
                 hints: [("predict*", 2), ("objective", 1), ("output", 1), ("target", 1)],
                 against: [("mdsm", 3), ("two stage", 4), ("single stage", 4)],
                 specificValue: { objectiveValue($0) != nil && !isNumberValue($0) }),
]

/// The knobs by the short names `PlanPart.known` lists: a description that is exactly one of them
/// names that key (alone, "width" is the model's; in "width of the crop" it is a generic word).
let knobNames: [(name: String, key: String)] = [
  ("learning rate", "lr"), ("batch size", "batch_size"), ("EMA decay", "ema_decay"), ("warm-up", "warmup_steps"),
  ("patch size", "network.patch_size"), ("depth", "network.encoder_depth"), ("width", "network.encoder_embed_dim"),
  ("heads", "network.encoder_heads"), ("training steps", "train_steps"),
]

/// The usual optimisation and model knobs, by name as well as by configuration key.
private let knobVocabularies: [PartVocabulary] = [
  knob("lr", [("learning rate", 5), ("step size", 3)], against: [("warmup", 4), ("schedule", 3)]),
  knob("batch_size", [("batch size", 5), ("minibatch size", 5), ("mini batch size", 5)], hints: [("batch", 2)]),
  knob("ema_decay", [("ema", 4), ("exponential moving average", 5), ("moving average", 4), ("weight averaging", 5),
                     ("weight average", 5), ("averaged weights", 4), ("model averaging", 4), ("averaging of the weights", 4),
                     ("polyak averaging", 4)]),
  knob("warmup_steps", [("warmup", 5)]),
  knob("network.patch_size", [("patch size", 5), ("patch side", 4), ("patch resolution", 4), ("patchification", 4)],
       against: WordGroup.maskWords.map { ($0, 3) }),
  knob("network.encoder_depth", [("depth", 5), ("number of layers", 5), ("transformer layers", 4), ("transformer blocks", 4)],
       hints: [("layers", 2), ("blocks", 1)]),
  knob("network.encoder_embed_dim", [("embedding dimension", 5), ("hidden size", 5), ("embed dimension", 5), ("hidden dimension", 5),
                                     ("model dimension", 5), ("token dimension", 4), ("model width", 5), ("network width", 5),
                                     ("width of the model", 5), ("width of the network", 5), ("transformer width", 5)],
       hints: [("width", 2)], against: [("block*", 4), ("crop*", 4), ("window", 4)]),
  knob("network.encoder_heads", [("attention heads", 5), ("heads", 4)]),
  knob("network.mlp_ratio", [("mlp ratio", 5), ("mlp expansion", 4), ("feed forward ratio", 4), ("expansion ratio", 4)]),
  knob("weight_decay", [("weight decay", 5), ("l2 regularization", 4), ("l2 penalty", 4)]),
  knob("clip_grad", [("gradient clipping", 5), ("clipping", 4), ("gradient norm clipping", 5), ("max grad norm", 4),
                     ("clip*", 3)]),
  knob("train_steps", [("training steps", 4), ("training iterations", 4), ("total steps", 4), ("optimization steps", 4),
                       ("optimizer steps", 4), ("number of iterations", 4)],
       hints: [("iterations", 2)], against: [("pretrain*", 3), ("share", 3)]),
  knob("timesteps", [("diffusion steps", 5), ("timesteps", 4), ("noise levels", 4), ("diffusion timesteps", 5),
                     ("number of noise levels", 5)], against: [("sampling", 4), ("sampler", 4)]),
  knob("dataset.hflip_prob", [("horizontal flip*", 5), ("flipping", 4), ("random flip*", 5), ("data augmentation", 4),
                              ("augmentation", 3)]),
]

private func knob(_ key: String, _ concepts: [(String, Double)], hints: [(String, Double)] = [],
                  against: [(String, Double)] = []) -> PartVocabulary {
  PartVocabulary(part: .config(key), concepts: concepts, hints: hints, against: against)
}

/// A dataset a plan is likely to name: the paper's and the quick preset's.
func isKnownDatasetName(_ text: String) -> Bool {
  let w = normalisedWords(text)
  return ["celeba*", "ffhq", "afhq", "vggface*", "imagenet", "tops", "footwear", "lsun", "cifar*", "church*", "bedroom*",
          "mnist", "fashion"].contains { contains(w, $0) }
}
