"""autoretouch run-time: slider catalog, recipes, renderer, decoding, host translators, sidecar IO, CLI.

Image tensors crossing any public boundary in this package are ``(N, 3, H, W)`` float32 or float64 in
**linear Rec.2020** (the darktable pipeline's default working space, D65 white), unless a docstring says
otherwise.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
