"""Whole-batch augmentation on the device: random shifts and mirror images.

A random crop of a zero-padded image is a shift with zeros coming in at the
edge; with a horizontal flip it is one affine map per image. All of a batch's
maps go through one ``GridGenerator`` + ``BilinearSampler`` on the batch's own
device, so augmenting costs about one extra elementwise pass, no host copies
of images, no per-image Python. Shifts are whole pixels, so the sampler only
ever reads exact pixels: no blur. The random draws come from a numpy generator
the caller seeds per batch, so a resumed run augments exactly as before.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mxnet import nd

from .errors import UsageError

__all__ = ["Augment"]


@dataclass(frozen=True)
class Augment:
    """``shift``: up to this many pixels in each direction (a crop with that
    much zero padding); ``flip``: mirror half the images left to right."""

    shift: int = 0
    flip: bool = False

    def __post_init__(self) -> None:
        if not 0 <= int(self.shift) <= 64:
            raise UsageError(f"shift must be a whole number of pixels in [0, 64]; got {self.shift}")

    def __bool__(self) -> bool:
        return bool(self.shift or self.flip)

    def maps(self, n: int, side: int, rng: np.random.Generator) -> np.ndarray:
        """The (n, 6) affine maps in the sampler's [-1, 1] coordinates."""
        theta = np.zeros((n, 6), dtype=np.float32)
        theta[:, 0] = np.where(rng.random(n) < 0.5, -1.0, 1.0) if self.flip else 1.0
        theta[:, 4] = 1.0
        if self.shift:
            step = 2.0 / max(1, side - 1)  # one pixel
            theta[:, 2] = rng.integers(-self.shift, self.shift + 1, n) * step
            theta[:, 5] = rng.integers(-self.shift, self.shift + 1, n) * step
        return theta

    def __call__(self, X: nd.NDArray, rng: np.random.Generator) -> nd.NDArray:
        """A batch (N, C, S, S) shifted and flipped, each image its own way."""
        if not self:
            return X
        n, _, h, w = X.shape
        theta = nd.array(self.maps(n, w, rng), ctx=X.context)
        grid = nd.GridGenerator(theta, transform_type="affine", target_shape=(h, w))
        return nd.BilinearSampler(X, grid)
