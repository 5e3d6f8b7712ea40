// The MaskDM layer of MaskDM (see README.md, "Layout").
