// The settings every plan starts from. A plan file overrides any of them; its `presets:` entries
// override the ones here by name. `quick` runs on a laptop CPU in minutes (Fashion-MNIST at 32x32, a
// small U-ViT, equal *time* budgets); `paper` is the authors' CelebA-64 ablation setting for a GPU
// (equal *step* budgets, 10k samples for FID).

/// The built-in default plan (YAML).
let defaultPlanYAML = """
  title: MaskDM ablation study
  baseline: two-stage (MaskDM)
  evaluation:
    sampler: ddim
    eta: 0.0
    kid: true
    grid: 36
    batch_size: 64
    when: end
  presets:
    quick:
      description: >-
        Fashion-MNIST at 32x32 (28x28 padded), a 5-block U-ViT (dim 64) predicting x0, batch 64, on the CPU.
        Stages have equal time budgets; FID uses few samples, so compare variants only with each other.
      compare: time
      base:
        # x0 prediction: in a minute of CPU training it learns shapes, where noise prediction still
        # gives noise (the paper's models predict noise and train for days).
        objective: pred_x0
        batch_size: 64
        lr: 2.0e-3
        adam_betas: [0.99, 0.99]
        weight_decay: 0.03
        warmup_steps: 50
        ema_decay: 0.999
        clip_grad: 1.0
        beta_schedule: cosine
        train_steps: 1000000
        save_and_sample_every: 100
        num_samples: 0
        log_every: 25
        seed: 1
        dataset: {NAME: fashion-mnist, SPLIT: train, MASK_RATIO: 0.0, MASK_TYPE: patch, IMG_SIZE: 32, hflip_prob: 0.5}
        network: {img_size: 32, patch_size: 4, in_chans: 1, encoder_embed_dim: 64, encoder_depth: 5, encoder_heads: 2,
                  mlp_ratio: 4, qkv_bias: false}
      stages:
        - name: pretrain
          seconds: 45
          set: {dataset.MASK_RATIO: 0.9}
        - name: finetune
          init_from: pretrain
          seconds: 45
          set: {dataset.MASK_RATIO: 0.0}
      evaluation:
        samples: 500
        sampling_steps: 25
        # A random subset of 1000 test images (seeded); KID is the primary metric below 2048 samples.
        reference: {split: test, count: 1000, seed: 0}
      datasets:
        tops: {about: "T-shirt, pullover, coat, shirt", NAME: fashion-mnist, CLASSES: [0, 2, 4, 6]}
        footwear: {about: "sandal, sneaker, ankle boot", NAME: fashion-mnist, CLASSES: [5, 7, 9]}
        target: {about: "trouser, dress, bag; 10% of them", NAME: fashion-mnist, CLASSES: [1, 3, 8], FRACTION: 0.1}
        # The paper's datasets, stood in for by groups of Fashion-MNIST classes on the CPU.
        CelebA: {about: "stands in for CelebA: tops", NAME: fashion-mnist, CLASSES: [0, 2, 4, 6]}
        FFHQ: {about: "stands in for FFHQ: footwear", NAME: fashion-mnist, CLASSES: [5, 7, 9]}
    paper:
      description: >-
        The authors' CelebA-64 ablation setting (configs/ablation/pretrain/patch/celeba_90p.yml): 90% patch
        pre-training for 200k steps at batch 256, then fine-tuning; equal step budgets; 10k samples per FID.
        Prepare the data first (README: maskdm prepare) and run on a GPU.
      compare: steps
      base:
        batch_size: 256
        lr: 2.0e-4
        adam_betas: [0.99, 0.99]
        weight_decay: 0.03
        ema_decay: 0.999
        clip_grad: null
        beta_schedule: linear
        save_and_sample_every: 10000
        num_samples: 64
        log_every: 100
        seed: 1232
        dataset: {NAME: prepared, PATH: data/celeba64, MASK_RATIO: 0.0, MASK_TYPE: patch, IMG_SIZE: 64, hflip_prob: 0.5}
        network: {img_size: 64, patch_size: 4, in_chans: 3, encoder_embed_dim: 512, encoder_depth: 13, encoder_heads: 8,
                  mlp_ratio: 4, qkv_bias: false}
      stages:
        - name: pretrain
          steps: 200000
          set: {dataset.MASK_RATIO: 0.9}
        - name: finetune
          init_from: pretrain
          steps: 200000
          set: {dataset.MASK_RATIO: 0.0}
      evaluation:
        samples: 10000
        sampling_steps: 250
        batch_size: 256
        reference: {split: train, count: 10000}
      datasets:
        CelebA: {NAME: prepared, PATH: data/celeba64}
        FFHQ: {NAME: prepared, PATH: data/ffhq64}
        target: {NAME: prepared, PATH: data/target64, FRACTION: 0.1}
  """
