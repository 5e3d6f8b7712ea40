// The NN layer of MaskDM (see README.md, "Layout").
