// The import corpus: how researchers word each ablatable part, and what the import must make of each
// wording. Per part, the names people give it are combined with sentence shapes and value spellings
// (deterministically: name i takes shapes i and i+1 and the value spellings at the same places) and
// wrapped in the plan formats planners write (the seed's Markdown, the seed's HTML box, plain HTML
// lists, Markdown with other bullets and inline replacements). Then the near-misses (a wording that
// shares words with one part and means another) and the wordings that must be refused.
import Foundation

/// One part's wordings: the names people give it and the value spellings with what the plan must write.
struct CorpusFamily {
  /// The part the imported plan must name (its canonical name).
  var part: String
  var action = "REPLACE"
  var names: [String]
  /// (replacements as written, replacements the imported plan writes); none for a REMOVE.
  var values: [([String], [String])] = [([], [])]
}

/// One wording with what it must give: `part` nil when it must be refused.
struct CorpusEntry {
  var wording: String
  var action = "REPLACE"
  var replacements: [String] = []
  var part: String?
  var values: [String] = []
  /// For a refusal: the parts the message must name as candidates.
  var candidates: [String] = []
}

enum ImportCorpus {
  /// Sentence shapes around a part's name.
  static let shapes = ["{}", "the {}", "Effect of the {}", "{} (as in the paper)", "Ablating the {}", "{} in MaskDM"]

  static let fractions: [([String], [String])] = [
    (["10%", "50%", "90%"], ["0.1", "0.5", "0.9"]), (["0.1", "0.3", "0.5"], ["0.1", "0.3", "0.5"]),
    (["ten percent", "ninety percent"], ["0.1", "0.9"]), (["50", "90"], ["0.5", "0.9"]), (["1/10", "1/2"], ["0.1", "0.5"]),
    (["half"], ["0.5"]),
  ]

  static let families: [CorpusFamily] = [
    CorpusFamily(part: "position embedding", action: "REMOVE",
                 names: ["position embedding", "positional information H added before masking", "positional embedding of the tokens",
                         "pos. embedding (H) of visible patches", "PE added to tokens", "positional encoding",
                         "location information of the visible patches", "position encodings added to every token"]),
    CorpusFamily(part: "schedule",
                 names: ["two-stage training framework (masked pre-training + denoising fine-tuning)", "training schedule",
                         "two stage vs single stage", "staged training", "training pipeline", "two-phase training"],
                 values: [(["Single-stage training with the MDSM objective for the whole budget", "DSM from scratch"], ["mdsm_only", "dsm_only"]),
                          (["mdsm only"], ["mdsm_only", "dsm_only"]), (["one stage of DSM"], ["dsm_only"])]),
    CorpusFamily(part: "masked pre-training", action: "REMOVE",
                 names: ["masked pre-training stage", "the MDSM pretraining phase", "pre-training", "the first phase",
                         "first stage of training", "the initial masked stage"]),
    CorpusFamily(part: "fine-tuning", action: "REMOVE",
                 names: ["denoising fine-tuning stage", "Finetuning", "the stage that follows", "second stage",
                         "the subsequent phase", "fine-tuning phase on whole images"]),
    CorpusFamily(part: "pre-training length",
                 names: ["length of the masked pre-training stage", "share of the budget spent on masked pre-training",
                         "pre-training duration", "how long to pre-train", "length of the first stage", "duration of the first phase",
                         "amount of pre-training", "budget split between the stages"],
                 values: [(["25%", "50%", "75%"], ["25%", "50%", "75%"]), (["0.25", "0.75"], ["0.25", "0.75"]),
                          (["a quarter", "half"], ["25%", "50%"]), (["20 s", "30 s"], ["20 s", "30 s"]), (["25", "75"], ["25%", "75%"])]),
    CorpusFamily(part: "mask rate",
                 names: ["masking rate", "mask ratio of the pre-training stage", "percentage of masked patches", "how many patches are masked",
                         "masking ratio", "fraction of the image that is hidden", "number of masked patches", "masked fraction",
                         "proportion of tokens dropped", "masking probability"],
                 values: fractions),
    CorpusFamily(part: "mask type",
                 names: ["masking strategy of the pre-training stage", "mask type", "type of masking used during pretraining",
                         "masking scheme", "mask shape", "kind of mask", "masking pattern", "how the image is masked"],
                 values: [(["patch", "block 4", "crop"], ["patch", "block 4", "crop"]), (["block", "crop", "patch"], ["block 4", "crop", "patch"]),
                          (["patch-wise", "block-wise (8x8 patches)", "cropping"], ["patch", "block 8", "crop"]),
                          (["block 2 at 50%", "block 8 at 90%"], ["block 2 at 50%", "block 8 at 90%"]),
                          (["random patches", "4x4 blocks", "crop 5"], ["patch", "block 4", "crop 5"])]),
    CorpusFamily(part: "block size",
                 names: ["block size of block-wise masking", "size of the masked blocks", "block side", "patches per side of a block",
                         "block size", "side of each masking block"],
                 values: [(["2", "4", "8"], ["2", "4", "8"]), (["2x2", "4x4"], ["2", "4"]), (["4 patches", "8 patches"], ["4", "8"])]),
    CorpusFamily(part: "crop size",
                 names: ["crop window size", "size of the visible window", "crop size", "patches per side of the crop window",
                         "width of the crop"],
                 values: [(["3", "5"], ["3", "5"]), (["3x3 patches", "5x5 patches"], ["3", "5"])]),
    CorpusFamily(part: "pre-training dataset",
                 names: ["pre-training dataset", "source data for masked pretraining", "data used in the first stage",
                         "images of the masked stage", "pretraining corpus", "dataset used for pre-training", "source domain"],
                 values: [(["CelebA", "FFHQ"], ["CelebA", "FFHQ"]), (["tops", "footwear"], ["tops", "footwear"]),
                          (["the CelebA faces", "FFHQ"], ["CelebA", "FFHQ"])]),
    CorpusFamily(part: "fine-tuning data fraction",
                 names: ["limited data for fine-tuning", "amount of fine-tuning data", "data fraction of the target set",
                         "share of the target data used downstream", "size of the fine-tuning dataset", "training set size in the second stage",
                         "subset of the target data", "number of target images"],
                 values: [(["100%", "10%", "1%"], ["1", "0.1", "0.01"]), (["0.1", "0.01"], ["0.1", "0.01"]),
                          (["all of the data", "a tenth"], ["1", "0.1"]), (["ten percent", "one percent"], ["0.1", "0.01"])]),
    CorpusFamily(part: "noise schedule",
                 names: ["noise schedule", "beta schedule of the diffusion", "variance schedule", "noise scheduler", "schedule of the betas"],
                 values: [(["linear", "cosine"], ["linear", "cosine"]), (["cosine schedule"], ["cosine"]),
                          (["Linear betas", "Cosine (Nichol & Dhariwal)"], ["linear", "cosine"])]),
    CorpusFamily(part: "sampler",
                 names: ["sampler used for evaluation", "sampling method", "sampling algorithm", "ODE solver", "number of sampling steps",
                         "denoising steps per generated image", "length of the sampling chain"],
                 values: [(["DDIM 50", "DDPM"], ["ddim 50", "ddpm"]), (["ddim with 25 steps", "DPM-Solver++ (2M), 10 steps"], ["ddim 25", "dpm++2m 10"]),
                          (["50", "250"], ["ddim 50", "ddim 250"])]),
    CorpusFamily(part: "objective",
                 names: ["prediction target", "the network's parameterization", "what the model predicts", "prediction type",
                         "output parameterization", "regression target of the denoiser"],
                 values: [(["eps", "x0", "v"], ["pred_noise", "pred_x0", "pred_v"]), (["noise prediction", "velocity"], ["pred_noise", "pred_v"]),
                          (["epsilon", "x_0"], ["pred_noise", "pred_x0"])]),
    CorpusFamily(part: "lr", names: ["learning rate", "LR of both stages", "optimizer learning rate", "step size of AdamW"],
                 values: [(["1e-4", "4e-4"], ["1e-4", "4e-4"]), (["0.0002"], ["0.0002"])]),
    CorpusFamily(part: "batch_size", names: ["batch size", "mini-batch size", "images per step", "number of images per gradient step",
                                             "BS of both stages"],
                 values: [(["32", "128"], ["32", "128"]), (["64"], ["64"])]),
    CorpusFamily(part: "ema_decay", names: ["EMA decay rate", "decay of the exponential moving average", "weight averaging decay"],
                 values: [(["0.99", "0.9999"], ["0.99", "0.9999"])]),
    CorpusFamily(part: "ema_decay", action: "REMOVE",
                 names: ["weight averaging", "EMA of the weights", "exponential moving average", "model averaging", "Polyak averaging"],
                 values: [([], ["0"])]),
    CorpusFamily(part: "warmup_steps", names: ["learning-rate warm-up", "warmup length", "warm up steps"],
                 values: [(["0", "500"], ["0", "500"])]),
    CorpusFamily(part: "warmup_steps", action: "REMOVE", names: ["learning-rate warm-up", "warm-up"], values: [([], ["0"])]),
    CorpusFamily(part: "network.patch_size", names: ["patch size of the ViT", "patch size", "pixels per side of a patch", "patch resolution"],
                 values: [(["2", "8"], ["2", "8"])]),
    CorpusFamily(part: "network.encoder_depth", names: ["model depth", "number of layers", "depth of the U-ViT", "number of transformer blocks"],
                 values: [(["3", "7"], ["3", "7"]), (["9"], ["9"])]),
    CorpusFamily(part: "network.encoder_embed_dim", names: ["width (embedding dimension)", "hidden size", "model width", "embedding dim"],
                 values: [(["32", "128"], ["32", "128"])]),
    CorpusFamily(part: "network.encoder_heads", names: ["number of attention heads", "heads per layer", "attention heads"],
                 values: [(["1", "4"], ["1", "4"])]),
    CorpusFamily(part: "network.mlp_ratio", names: ["MLP ratio", "network.mlp_ratio"], values: [(["2", "8"], ["2", "8"])]),
    CorpusFamily(part: "weight_decay", names: ["weight decay", "L2 regularization"], values: [(["0", "0.1"], ["0", "0.1"])]),
    CorpusFamily(part: "weight_decay", action: "REMOVE", names: ["weight decay", "decoupled weight decay of AdamW"], values: [([], ["0"])]),
    CorpusFamily(part: "clip_grad", action: "REMOVE", names: ["gradient clipping", "clipping of the gradient norm", "gradient norm clipping"],
                 values: [([], ["null"])]),
    CorpusFamily(part: "train_steps", names: ["number of training steps", "training iterations", "total steps"],
                 values: [(["1000", "5000"], ["1000", "5000"])]),
    CorpusFamily(part: "dataset.hflip_prob", action: "REMOVE", names: ["horizontal flips", "data augmentation", "random flipping"],
                 values: [([], ["0"])]),
    CorpusFamily(part: "timesteps", names: ["number of diffusion steps", "diffusion timesteps"], values: [(["500", "1000"], ["500", "1000"])]),
  ]

  /// Every family's names in two shapes each, with the value spellings in turn.
  static let generated: [CorpusEntry] = families.flatMap { family in
    family.names.enumerated().flatMap { i, name in
      (0..<2).map { j -> CorpusEntry in
        let shape = shapes[(i + j) % shapes.count]
        let (written, imported) = family.values[(i + j) % family.values.count]
        return CorpusEntry(wording: shape.replacingOccurrences(of: "{}", with: name), action: family.action, replacements: written,
                           part: family.part, values: imported)
      }
    }
  }

  /// Wordings that share words with one part and mean another, or name a part by a quantity per unit,
  /// a stage's ordinal or role, or what REMOVE means for it.
  static let nearMisses: [CorpusEntry] = [
    CorpusEntry(wording: "noise schedule of the pre-training stage", replacements: ["cosine"], part: "noise schedule", values: ["cosine"]),
    CorpusEntry(wording: "learning rate of the masked stage", replacements: ["1e-4"], part: "lr", values: ["1e-4"]),
    CorpusEntry(wording: "mask type of the pre-training stage", replacements: ["patch", "block 4"], part: "mask type", values: ["patch", "block 4"]),
    CorpusEntry(wording: "length of pre-training", replacements: ["25%"], part: "pre-training length", values: ["25%"]),
    CorpusEntry(wording: "patch size of the model", replacements: ["2"], part: "network.patch_size", values: ["2"]),
    CorpusEntry(wording: "position embedding of the masked pre-training stage", action: "REMOVE", part: "position embedding"),
    CorpusEntry(wording: "single-stage training objective", replacements: ["MDSM only"], part: "schedule", values: ["mdsm_only", "dsm_only"]),
    CorpusEntry(wording: "MLP ratio", replacements: ["2"], part: "network.mlp_ratio", values: ["2"]),
    CorpusEntry(wording: "sampling steps of the sampler", replacements: ["ddim 25"], part: "sampler", values: ["ddim 25"]),
    CorpusEntry(wording: "EMA decay", replacements: ["0.99"], part: "ema_decay", values: ["0.99"]),
    CorpusEntry(wording: "batch size of pre-training", replacements: ["64"], part: "batch_size", values: ["64"]),
    CorpusEntry(wording: "warm-up steps", replacements: ["100"], part: "warmup_steps", values: ["100"]),
    CorpusEntry(wording: "masked pre-training learning rate", replacements: ["1e-4"], part: "lr", values: ["1e-4"]),
    CorpusEntry(wording: "noise level of the pre-training images", replacements: ["linear"], part: "noise schedule", values: ["linear"]),
    CorpusEntry(wording: "number of denoising steps per sample", replacements: ["25", "50"], part: "sampler", values: ["ddim 25", "ddim 50"]),
    CorpusEntry(wording: "patches per side of each masked block", replacements: ["2", "4"], part: "block size", values: ["2", "4"]),
    CorpusEntry(wording: "during the first phase, the fraction of patches that are hidden", replacements: ["50", "90"], part: "mask rate",
                values: ["0.5", "0.9"]),
    CorpusEntry(wording: "in the second stage, the amount of training data", replacements: ["10%", "1%"], part: "fine-tuning data fraction",
                values: ["0.1", "0.01"]),
    CorpusEntry(wording: "fraction of masked patches in pre-training", replacements: ["10%", "50%"], part: "mask rate", values: ["0.1", "0.5"]),
    CorpusEntry(wording: "number of pre-training steps", replacements: ["25%"], part: "pre-training length", values: ["25%"]),
    CorpusEntry(wording: "target", replacements: ["eps", "v"], part: "objective", values: ["pred_noise", "pred_v"]),
    CorpusEntry(wording: "the stage that follows the masked one", action: "REMOVE", part: "fine-tuning"),
    CorpusEntry(wording: "data of the first stage", replacements: ["FFHQ"], part: "pre-training dataset", values: ["FFHQ"]),
    CorpusEntry(wording: "downstream data size", replacements: ["10%"], part: "fine-tuning data fraction", values: ["0.1"]),
    CorpusEntry(wording: "size of the subset of the target data", replacements: ["10%", "1%"], part: "fine-tuning data fraction",
                values: ["0.1", "0.01"]),
  ]

  /// Wordings that must be refused: generic words alone, parts nothing names, two parts at once,
  /// values no part takes, and actions a part does not have. `candidates` the refusal must name.
  static let refusals: [CorpusEntry] = [
    // The misread this corpus guards against: one generic word of another part's vocabulary.
    CorpusEntry(wording: "Sequence length of the transformer input", replacements: ["64", "256"]),
    CorpusEntry(wording: "context length", replacements: ["64", "256"]),
    CorpusEntry(wording: "length of the noise schedule", replacements: ["500", "1000"], candidates: ["noise schedule"]),
    CorpusEntry(wording: "length", replacements: ["25%"], candidates: ["pre-training length"]),
    CorpusEntry(wording: "rate", replacements: ["0.1", "0.5"], candidates: ["mask rate"]),
    CorpusEntry(wording: "size", replacements: ["4", "8"]),
    CorpusEntry(wording: "number", replacements: ["4", "8"]),
    CorpusEntry(wording: "amount", replacements: ["10%"]),
    CorpusEntry(wording: "number of patches", replacements: ["16", "64"]),
    CorpusEntry(wording: "size of the model", replacements: ["small", "large"]),
    CorpusEntry(wording: "noise level", replacements: ["0.1"]),
    // Two parts at once, and parts the plan format has no ablation for.
    CorpusEntry(wording: "block size and crop size", replacements: ["4"], candidates: ["block size", "crop size"]),
    CorpusEntry(wording: "the colour of the logo", replacements: ["blue"]),
    CorpusEntry(wording: "how long the stage that follows runs", replacements: ["25%"]),
    CorpusEntry(wording: "the dataset of the stage that follows", replacements: ["CelebA", "FFHQ"]),
    CorpusEntry(wording: "amount of pre-training data", replacements: ["10%", "100%"]),
    CorpusEntry(wording: "mask rate of the fine-tuning stage", replacements: ["0.5"]),
    // A part read, but an action or values it does not take.
    CorpusEntry(wording: "learning rate", action: "REMOVE", candidates: ["REPLACE"]),
    CorpusEntry(wording: "masking rate", action: "REMOVE", candidates: ["REPLACE"]),
    CorpusEntry(wording: "mask type", replacements: ["hexagons"]),
    CorpusEntry(wording: "pre-training dataset", replacements: ["ImageNet-21k"]),
    CorpusEntry(wording: "masking rate", action: "DOUBLE", replacements: ["0.5"], candidates: ["REMOVE", "REPLACE"]),
  ]

  static var all: [CorpusEntry] { generated + nearMisses + refusals }

  /// The plan formats planners write, each wrapping a list of (name, entry).
  enum Wrapper: CaseIterable {
    case seedMarkdown, seedHTMLBox, htmlList, markdownVariant

    func document(_ items: [(String, CorpusEntry)]) -> String {
      switch self {
      case .seedMarkdown:
        return "# Plan\n\n## Ablation Plan\n\n" + items.map { seedMarkdown($0, $1) }.joined(separator: "\n")
      case .seedHTMLBox:
        return "<style>\n.trajectory-box h3 { color: #1a1a1a !important; }\n</style>\n\n# lm-planner/corpus\n\n"
          + "<div class=\"trajectory-box\">\n<h2 style=\"color: #1976d2;\">🧠 Reasoning Trace</h2>\nThe paper's ablations.\n</div>\n\n"
          + "<div class=\"trajectory-box\">\n<h2 style=\"color: #2e7d32;\">📋 Ablation Plan</h2>\n\n"
          + items.map { seedMarkdown($0, $1) }.joined(separator: "\n") + "\n</div>"
      case .htmlList:
        return "<html><body><h2>Ablation Plan</h2>\n" + items.map(htmlItem).joined() + "</body></html>\n"
      case .markdownVariant:
        return "# Study\n\n## Ablation Plan\n\n" + items.map { name, e in
          let inline = e.replacements.allSatisfy { !$0.contains(",") && !$0.contains(";") && $0.split(separator: " ").count <= 4 }
          return "## \(name)\n* **Ablated part:** \(e.wording)\n* **Action:** \(e.action)\n"
            + (e.replacements.isEmpty ? "" : inline ? "* **Replacements:** \(e.replacements.joined(separator: ", "))\n"
                 : "* **Replacements:**\n" + e.replacements.map { "    + \($0)\n" }.joined())
            + "* **Metrics:** FID\n\n"
        }.joined()
      }
    }

    private func htmlItem(_ name: String, _ e: CorpusEntry) -> String {
      var text = "<h3>\(html(name))</h3>\n<ul>\n<li><strong>Ablated Part</strong>: \(html(e.wording))</li>\n"
      text += "<li><strong>Action</strong>: \(e.action)</li>\n"
      if !e.replacements.isEmpty {
        let list: String = e.replacements.map { "<li>\(html($0))</li>" }.joined()
        text += "<li><strong>Replacements</strong>:<ul>" + list + "</ul></li>\n"
      }
      return text + "<li><strong>Metrics</strong>: FID, training time</li>\n</ul>\n"
    }

    private func seedMarkdown(_ name: String, _ e: CorpusEntry) -> String {
      "### \(name)\n- **Ablated Part**: \(e.wording)\n- **Action**: \(e.action)\n"
        + (e.replacements.isEmpty ? "" : "- **Replacement**: \n" + e.replacements.map { "  - \($0)\n" }.joined())
        + "- **Metrics**: FID, Training Time (GPU Days)\n"
    }

    private func html(_ s: String) -> String {
      s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
  }
}
