// The Training layer of MaskDM (see README.md, "Layout").
