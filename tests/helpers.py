"""Shared test helpers: IDX writers and small data sets."""
import gzip
import struct
from pathlib import Path

import numpy as np
from mxnet import nd
from mxnet.gluon import nn

import d2lnets as d2l
from d2lnets.data import FILES


def idx_bytes(array: np.ndarray) -> bytes:
    codes = {np.dtype("uint8"): 0x08, np.dtype("int32"): 0x0C}
    arr = np.ascontiguousarray(array)
    header = struct.pack(">HBB", 0, codes[arr.dtype], arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    return header + data


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    raw = idx_bytes(array)
    if compress:
        path = Path(str(path) + ".gz") if not str(path).endswith(".gz") else Path(path)
        with gzip.open(path, "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)
    return path


def write_fake_set(folder: Path, n_train: int = 20, n_test: int = 10) -> Path:
    """Four IDX .gz files of random images (not the real set: load with verify=False)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        img_name, lbl_name = FILES[split]
        write_idx(folder / img_name, rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8))
        write_idx(folder / lbl_name, (np.arange(n) % 10).astype(np.uint8))
    return folder


def bn_pair(C, dims, momentum, eps, hybridize):
    """A d2lnets BatchNorm and Gluon's, with the same random gamma and beta."""
    ours = d2l.BatchNorm(C, dims, eps=eps, momentum=momentum)
    ref = nn.BatchNorm(in_channels=C, momentum=momentum, epsilon=eps)
    for blk in (ours, ref):
        blk.initialize()
        if hybridize:
            blk.hybridize(static_alloc=True, static_shape=True)
    gamma, beta = nd.random.uniform(0.5, 2, shape=C), nd.random.normal(shape=C)
    for blk in (ours, ref):
        blk.gamma.set_data(gamma)
        blk.beta.set_data(beta)
    return ours, ref
