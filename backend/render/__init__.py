"""Differentiable renderer: one stage per darktable module, batched (N, 3, H, W) linear Rec.2020."""
