"""The WGAN critic D: scores how much a thumbnail looks like the favourites.

Input encoding (:meth:`Critic.encode`): linear Rec.2020 is clamped to [0, 1] and sRGB-encoded, minus 0.5, so the
critic judges what a photographer sees. The gradient penalty is taken in this encoded space (the critic's own
input, see :mod:`trainer.losses`). :meth:`Critic.score` appends three broadcast statistics planes (mean
luminance, luminance variance and mean saturation of the encoded image, as Exposure's critic does) and runs a
conv trunk: four 4x4 convolutions with stride 2 (``width, 2w, 4w, 8w`` channels; leaky ReLU 0.2, no
normalisation, which would break the per-sample gradient penalty), global average pooling (any thumbnail
size >= 16 works), then FC ``8w -> 128 -> 1``.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from backend.render.color import REC2020_LUMINANCE, srgb_encode

__all__ = ["Critic"]


class Critic(nn.Module):
    """WGAN critic on thumbnails.

    Args:
        width: channels of the first convolution (the others double); >= 1.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"critic width must be >= 1, got {width}")
        self.width = int(width)
        chans = (6, width, 2 * width, 4 * width, 8 * width)
        layers: list[nn.Module] = []
        for cin, cout in itertools.pairwise(chans):
            layers += [nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(chans[-1], 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
        self.register_buffer("lum_weights", torch.tensor(REC2020_LUMINANCE, dtype=torch.float32), persistent=False)

    @staticmethod
    def encode(image: Tensor) -> Tensor:
        """``(N, 3, H, W)`` linear Rec.2020 -> ``(N, 3, H, W)`` float32 sRGB-encoded values minus 0.5, in [-0.5, 0.5]."""
        return srgb_encode(image.float().clamp(0.0, 1.0)) - 0.5

    def score(self, encoded: Tensor) -> Tensor:
        """Critic scores of encoded images.

        Args:
            encoded: ``(N, 3, H, W)`` float32 from :meth:`encode` (or interpolates of such).

        Returns:
            ``(N,)`` float32 scores (higher = more like the favourites).
        """
        x = encoded + 0.5
        lum = torch.einsum("c,nchw->nhw", self.lum_weights.to(x.dtype), x)
        sat = x.amax(dim=1) - x.amin(dim=1)
        n, _, h, w = x.shape
        stats = torch.stack(
            (lum.mean(dim=(1, 2)), lum.flatten(1).var(dim=1, unbiased=False), sat.mean(dim=(1, 2))), dim=1
        )
        planes = stats[:, :, None, None].expand(n, 3, h, w)
        feat = self.trunk(torch.cat((encoded, planes - 0.5), dim=1))
        return self.head(feat.mean(dim=(2, 3))).squeeze(1)

    def forward(self, image: Tensor) -> Tensor:
        """Scores ``(N,)`` of ``(N, 3, H, W)`` linear Rec.2020 images."""
        return self.score(self.encode(image))
