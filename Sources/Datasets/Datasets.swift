// The Datasets layer of MaskDM (see README.md, "Layout").
