// The tiny base configuration the plan tests share: synthetic 16x16 images and a 3-block U-ViT, so a plan
// expands (and, in the CLI tests' copy, trains) in moments.

enum TinyPlan {
  /// The plan's `base:` block, at the top level of a plan's YAML; `seed` when the test needs one.
  static func base(seed: Int? = nil) -> String {
    "base:\n" + (seed.map { "  seed: \($0)\n" } ?? "")
      + "  dataset: {NAME: synthetic, IMG_SIZE: 16}\n"
      + "  network: {img_size: 16, patch_size: 4, in_chans: 3, encoder_embed_dim: 32, encoder_depth: 3, encoder_heads: 2}"
  }
}
