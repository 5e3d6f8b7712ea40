// The Evaluation layer of MaskDM (see README.md, "Layout").
