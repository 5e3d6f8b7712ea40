// The Studies layer of MaskDM (see README.md, "Layout").
