"""Fashion-MNIST, offline first: find the IDX files, read and verify them, batch in memory.

``load_data_fashion_mnist(batch_size, resize=None, root=None)`` keeps the
book's signature and batch format (X float32 in [0, 1], shape (B, 1, H, W);
y int32). The set is read into one uint8 array, scaled and resized once
(bilinear, like the book's ``transforms.Resize``) by MXNet ops on whole chunks,
and kept as one NDArray; a batch is a slice or a ``take`` of it.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Callable

import mxnet as mx
import numpy as np
from mxnet import nd
from mxnet.util import is_np_array

from .augment import Augment
from .config import MAX_SIDE, RunConfig
from .errors import DataError, UsageError
from .files import write_atomically

__all__ = [
    "DataError", "FashionMNISTIter", "load_data_fashion_mnist", "find_fashion_mnist",
    "read_idx", "load_fashion_mnist_arrays", "search_locations", "get_fashion_mnist_labels",
    "find_local",
    "SAMPLE", "FILES",
]

#: split -> (images file, labels file)
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: sha1 of each file's decompressed content: any faithful (re)compression passes
CONTENT_SHA1 = {
    "train-images-idx3-ubyte": "b9bd999c0106c9b8b4b0cefce58c9a6060f27095",
    "train-labels-idx1-ubyte": "4bccf37222e01638381eaa326bf730337a597267",
    "t10k-images-idx3-ubyte": "880056926db704f9f713097915f99da346f5b1d1",
    "t10k-labels-idx1-ubyte": "958122e8b4b97fd4e71eca2d08ef754ed77c3ad9",
}
#: sha1 of the .gz files on Gluon's mirror (what a download must match)
GZ_SHA1 = {
    "train-images-idx3-ubyte": "0cf37b0d40ed5169c6b3aba31069a9770ac9043d",
    "train-labels-idx1-ubyte": "236021d52f1e40852b06a4c3008d8de8aef1e40b",
    "t10k-images-idx3-ubyte": "626ed6a7c06dd17c0eec72fa3be1740f146a2863",
    "t10k-labels-idx1-ubyte": "17f9ab60e7257a1620f4ad76bbbaf857c3920701",
}
SPLIT_SIZE = {"train": 60000, "test": 10000}
MIRROR = "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/gluon/dataset/fashion-mnist/"
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
#: ``root`` value that selects the small sample shipped in the package
SAMPLE = "sample"
SAMPLE_FILE = Path(__file__).parent / "sample" / "fashion_mnist_sample.npz"

TEXT_LABELS = ["t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot"]

HOW_TO_GET = (
    "To get the data: `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put the four "
    "IDX .gz files in a folder and pass root=FOLDER (--data FOLDER) or set D2LNETS_DATA, or use the "
    "small sample shipped with d2lnets: root='sample' (--data sample).")


def get_fashion_mnist_labels(labels: object) -> list[str]:
    """Text labels for numeric ones (the book's helper)."""
    return [TEXT_LABELS[int(i)] for i in labels]


# ----------------------------------------------------------------- IDX format
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


#: the most an IDX file may declare (Fashion-MNIST's training images are 47 MB): a
#: small gzip that inflates to gigabytes is refused before it is read
MAX_IDX_BYTES = 1 << 30
#: the largest image side read from a data file: ``--resize``'s bound
MAX_IMAGE_SIDE = MAX_SIDE


def _bounded_read(f: BinaryIO, path: Path) -> bytes:
    """The header, then at most the payload it declares plus one byte (to see
    that a file is too long) — never more than :data:`MAX_IDX_BYTES`."""
    head = f.read(4)
    if len(head) < 4 or head[2] not in _IDX_DTYPES:
        return head + f.read(64)
    dims_raw = f.read(4 * head[3])
    dims = struct.unpack(f">{len(dims_raw) // 4}I", dims_raw[: len(dims_raw) // 4 * 4])
    want = int(np.prod(dims, dtype=np.int64)) * np.dtype(_IDX_DTYPES[head[2]]).itemsize
    if want > MAX_IDX_BYTES:
        raise DataError(f"{path}: its header declares {want:,} bytes of data (dimensions {dims}), "
                        f"more than the {MAX_IDX_BYTES:,} d2lnets reads: this is not Fashion-MNIST. "
                        f"{HOW_TO_GET}")
    if len(dims) == 3 and max(dims[1:]) > MAX_IMAGE_SIDE:
        raise DataError(f"{path}: images of {dims[1]}x{dims[2]} pixels; d2lnets reads images of "
                        f"at most {MAX_IMAGE_SIDE} pixels a side (Fashion-MNIST's are 28x28). "
                        f"{HOW_TO_GET}")
    return head + dims_raw + f.read(want + 1)


def _read_bytes(path: Path) -> bytes:
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            return _bounded_read(f, path)
    except PermissionError as err:
        raise DataError(f"cannot read {path}: permission denied. Fix its permissions "
                        f"(chmod a+r) or copy the data elsewhere. {HOW_TO_GET}") from err
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"{path} is not a readable gzip/IDX file ({err}); it may be truncated "
                        f"or corrupt: delete it and get the data again. {HOW_TO_GET}") from err


def read_idx(path: str | os.PathLike, expected_ndim: int | None = None,
             expected_count: int | None = None, sha1: str | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain), validating it on the way.

    Checks the magic number, the number of dimensions, that the payload length
    matches the header, and optionally the item count and the sha1 of the
    decompressed content. Raises :class:`DataError` naming the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: {len(data)} bytes, too short for an IDX header; the file is "
                        f"truncated or empty. {HOW_TO_GET}")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code not in _IDX_DTYPES or ndim == 0:
        raise DataError(f"{path}: bad IDX magic number 0x{data[:4].hex()} (expected 0x0000 then a "
                        f"type byte and a dimension count); this is not an IDX file. {HOW_TO_GET}")
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataError(f"{path}: IDX file has {ndim} dimensions, expected {expected_ndim}; "
                        f"images and labels may be swapped. {HOW_TO_GET}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header. {HOW_TO_GET}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[dtype_code])
    want = int(np.prod(dims)) * dtype.itemsize
    got = len(data) - header
    if got != want:
        has = f"has {got}" if got < want else "has more"
        raise DataError(f"{path}: header says {dims} items ({want} bytes of data) but the file "
                        f"{has}; it is {'truncated' if got < want else 'too long'}. {HOW_TO_GET}")
    if expected_count is not None and dims[0] != expected_count:
        raise DataError(f"{path}: {dims[0]} items, expected {expected_count}. {HOW_TO_GET}")
    if sha1 is not None:
        digest = hashlib.sha1(data).hexdigest()
        if digest != sha1:
            raise DataError(f"{path}: content checksum {digest} does not match Fashion-MNIST's "
                            f"({sha1}); the file is corrupt or another data set. {HOW_TO_GET}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims).astype(
        dtype.newbyteorder("="), copy=False)


# ------------------------------------------------------------ where the data is
def _cache_dir() -> Path:
    home = os.environ.get("MXNET_HOME", os.path.join(os.path.expanduser("~"), ".mxnet"))
    return Path(home) / "datasets" / "fashion-mnist"


def search_locations(root: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """The folders looked in, in order, each with who named it ("" for the usual
    places). A folder the user named (``root``, else ``$D2LNETS_DATA``) is the
    only one; otherwise Gluon's cache ``$MXNET_HOME/datasets/fashion-mnist``,
    then Debian's folder."""
    if root is not None:
        return [(Path(root).expanduser(), "the data folder")]
    if os.environ.get("D2LNETS_DATA"):
        return [(Path(os.environ["D2LNETS_DATA"]).expanduser(), "$D2LNETS_DATA")]
    return [(_cache_dir(), ""), (Path(DEBIAN_DIR), "")]


def _file_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _all_names() -> list[str]:
    return [n for pair in FILES.values() for n in pair]


def download(url: str, dest: Path, sha1: str, timeout: float = 30.0) -> None:
    """Fetch ``url`` into ``dest`` whole or not at all, checking the sha1 of the bytes."""
    def fetch(out: IO[bytes]) -> None:
        digest = hashlib.sha1()
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha1:
            raise DataError(f"downloaded {url} has sha1 {digest.hexdigest()}, expected {sha1}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(dest, fetch)


def _holds_the_data(folder: Path, named: str) -> bool:
    """True if ``folder`` holds the four files. A folder the user ``named`` must
    (an error says what is wrong); of the usual places, a missing or unreadable
    one holds nothing, and the cache may hold part of the set (a download cut
    off part-way is completed). Only part of the set elsewhere is an error."""
    try:
        usable = folder.is_dir() and os.access(folder, os.R_OK | os.X_OK)
    except OSError as err:  # a name too long, say: no folder can have it
        raise DataError(f"{named} {str(folder)[:80]}... cannot be a folder here "
                        f"({err.strerror or err}). {HOW_TO_GET}") from None
    if named and not usable:
        raise DataError(_why_unusable(folder, named))
    found = {n: _file_in(folder, n) for n in _all_names()} if usable else {}
    missing = [n for n, p in found.items() if p is None]
    if named and len(missing) == len(found):
        raise DataError(f"{named} {folder} holds no Fashion-MNIST files "
                        f"({', '.join(n + '.gz' for n in _all_names())}). {HOW_TO_GET}")
    if missing and len(missing) < len(found) and folder != _cache_dir():
        raise DataError(f"{folder} holds only part of Fashion-MNIST: missing "
                        f"{', '.join(m + '.gz' for m in missing)}. {HOW_TO_GET}")
    return bool(found) and not missing


def _why_unusable(folder: Path, named: str) -> str:
    if not folder.exists():
        return (f"{named} {folder} does not exist. Check the path, or leave it out to search "
                f"the usual places. {HOW_TO_GET}")
    if not folder.is_dir():
        return (f"{named} {folder} is a file, not a folder: name the folder that holds the "
                f"four IDX .gz files. {HOW_TO_GET}")
    return (f"cannot read the data folder {folder}: permission denied. Fix its permissions "
            f"(chmod a+rx) or copy the data elsewhere. {HOW_TO_GET}")


def find_local(root: str | os.PathLike | None = None) -> Path | None:
    """Where the data is on this machine, without downloading (None: nowhere),
    in the order of :func:`search_locations`."""
    for folder, named in search_locations(root):
        if _holds_the_data(folder, named):
            return folder
    return None


def find_fashion_mnist(root: str | os.PathLike | None = None,
                       downloader: Callable[[str, Path, str], None] | None = None) -> Path:
    """The folder holding the four Fashion-MNIST files (see :func:`find_local`);
    when no folder was named and none holds them, they are downloaded from
    Gluon's mirror into Gluon's cache. The error, when all fails, lists every
    place looked at and the ways to get the data."""
    folder = find_local(root)
    if folder is not None:
        return folder
    cache = _cache_dir()
    fetch = downloader or download
    try:
        for name in _all_names():  # each file lands whole (checked, then renamed) or not at all
            if _file_in(cache, name) is None:
                fetch(MIRROR + name + ".gz", cache / f"{name}.gz", GZ_SHA1[name])
        return cache
    except (OSError, DataError) as err:
        looked = "\n".join(f"  - {p}" for p, _ in search_locations(root))
        raise DataError(f"Fashion-MNIST not found. Looked in:\n{looked}\nand could not download "
                        f"it from {MIRROR} ({err}).\n{HOW_TO_GET}") from None


_CACHE: dict[tuple, dict[str, tuple[np.ndarray, np.ndarray]]] = {}


def _load_sample() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if not SAMPLE_FILE.is_file():
        raise DataError(f"the shipped sample {SAMPLE_FILE} is missing: reinstall d2lnets")
    with np.load(SAMPLE_FILE) as z:
        return {split: (z[f"{split}_images"], z[f"{split}_labels"]) for split in FILES}


def load_fashion_mnist_arrays(root: str | os.PathLike | None = None, verify: bool = True,
                              downloader: Callable | None = None
                              ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{'train': (images, labels), 'test': (...)}`` as uint8 (N, 28, 28) and int32 (N,)."""
    if root is not None and str(root) == SAMPLE:
        return _load_sample()
    folder = find_fashion_mnist(root, downloader)
    paths = {n: _file_in(folder, n) for n in _all_names()}
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths.values()) + (verify,)
    if key in _CACHE:
        return _CACHE[key]
    out = {}
    for split, (img_name, lbl_name) in FILES.items():
        count = SPLIT_SIZE[split] if verify else None
        images = read_idx(paths[img_name], 3, count, CONTENT_SHA1[img_name] if verify else None)
        labels = read_idx(paths[lbl_name], 1, count, CONTENT_SHA1[lbl_name] if verify else None)
        if len(images) != len(labels):
            raise DataError(f"{paths[img_name]} has {len(images)} images but {paths[lbl_name]} "
                            f"has {len(labels)} labels. {HOW_TO_GET}")
        out[split] = (images, labels.astype(np.int32))
    _CACHE.clear()
    _CACHE[key] = out
    return out


# -------------------------------------------------------------------- batches
@dataclass
class FashionMNISTIter:
    """Batches of an in-memory image set.

    The set stays uint8 (47 MB for Fashion-MNIST's training split), as one
    NDArray on ``ctx``. A batch is one gather (or slice) of it, resized and
    scaled to [0, 1] exactly as the book's ``Resize`` and ``ToTensor`` by MXNet
    ops that the engine runs ahead of, and beside, the training step. Under
    ``npx.set_np()`` the batches are ``mxnet.np`` arrays (no copy). Memory
    stays that of the uint8 set, and the first batch comes at once.

    Iterating gives one epoch. With ``shuffle``, each epoch's order is a
    permutation drawn from ``(seed, epoch)``, so a resumed run sees the same
    batches; :meth:`epoch` also starts part-way through an epoch. In training
    (``shuffle``) a last batch smaller than ``min_last_batch`` is dropped, as
    Gluon's ``last_batch='discard'`` would: batch normalisation cannot train on
    one image (the loop raises the bound to 2 per device). Shuffling makes the
    dropped images differ from epoch to epoch. ``augment`` (training batches
    only) shifts and flips each batch on the device, drawn from
    ``(seed, epoch, batch)``.
    """

    images: np.ndarray
    labels: np.ndarray
    batch_size: int
    shuffle: bool = False
    resize: int | None = None
    seed: int = 0
    ctx: object = None
    current_epoch: int = 0
    source: str = ""
    min_last_batch: int = 2
    augment: Augment | None = None

    def __post_init__(self) -> None:
        if int(self.batch_size) < 1:
            raise UsageError(f"batch_size must be a positive integer; got {self.batch_size}")
        if self.resize is not None and int(self.resize) < 1:
            raise UsageError(f"resize must be a positive integer (e.g. 96); got {self.resize}")
        if self.images.ndim != 3 or self.images.shape[1] != self.images.shape[2]:
            raise DataError(f"images of shape {self.images.shape[1:]}: d2lnets needs square "
                            f"one-channel images, (N, side, side) (Fashion-MNIST's are 28x28)")
        if len(self.images) == 0:
            raise DataError("the image set is empty: there is nothing to train or test on. "
                            f"{HOW_TO_GET}")
        self.batch_size = int(self.batch_size)
        self._rank, self._num_parts = 0, 1
        self._store: tuple | None = None

    def _sizes(self) -> tuple[int, int]:
        """(examples per epoch, examples dropped per epoch)."""
        n = len(self._indices(0))
        rest = n % self.batch_size
        dropped = rest if self.shuffle and 0 < rest < self.min_last_batch else 0
        return n, dropped

    def __len__(self) -> int:
        n, dropped = self._sizes()
        return -(-(n - dropped) // self.batch_size)

    @property
    def num_examples(self) -> int:
        return self._sizes()[0]

    @property
    def side(self) -> int:
        return int(self.resize) if self.resize else self.images.shape[-1]

    def shard(self, rank: int, num_parts: int) -> FashionMNISTIter:
        """Keep every ``num_parts``-th example starting at ``rank`` (one worker's share)."""
        if not 0 <= rank < num_parts:
            raise UsageError(f"rank {rank} is not in [0, {num_parts})")
        self._rank, self._num_parts = rank, num_parts
        return self

    def _indices(self, epoch: int) -> np.ndarray:
        n = len(self.images)
        order = (np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle
                 else np.arange(n))
        return order[self._rank::self._num_parts] if self._num_parts > 1 else order

    def __iter__(self) -> Iterator[tuple]:
        it = self.epoch(self.current_epoch)
        self.current_epoch += 1
        return it

    def _on(self, ctx: object) -> tuple[nd.NDArray, nd.NDArray]:
        """The uint8 images and int32 labels as NDArrays on ``ctx`` (made once)."""
        if self._store is None or self._store[0].context != ctx:
            self._store = (nd.array(self.images, ctx=ctx, dtype="uint8"),
                           nd.array(self.labels, ctx=ctx, dtype="int32"))
        return self._store

    def _prepare(self, images: nd.NDArray) -> nd.NDArray:
        """uint8 (B, H, W) -> float32 (B, 1, S, S) in [0, 1]: Gluon's ``Resize``
        then ``ToTensor`` to the bit (the same resize operator on the uint8
        images, one call a batch, then the same division by 255)."""
        b, h, w = images.shape
        if self.resize and self.side != w:  # to the same side it would be a copy
            images = nd.image.resize(images.reshape((b, h, w, 1)), size=self.side, interp=1)
            h = w = self.side
        return images.reshape((b, 1, h, w)).astype("float32") / 255

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple]:
        """The batches of ``epoch``, from batch ``start_batch`` on."""
        ctx = self.ctx or mx.cpu()
        images, labels = self._on(ctx)
        order = self._indices(epoch)
        contiguous = self.shuffle is False and self._num_parts == 1
        n = len(order) - self._sizes()[1]
        for start in range(start_batch * self.batch_size, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            if contiguous:
                X, y = self._prepare(images[start:stop]), labels[start:stop]
            else:
                idx = nd.array(order[start:stop], ctx=ctx, dtype="int32")
                X, y = self._prepare(nd.take(images, idx)), nd.take(labels, idx)
            if self.augment and self.shuffle:
                X = self.augment(X, np.random.default_rng([self.seed, epoch, start // self.batch_size]))
            yield (X.as_np_ndarray(), y.as_np_ndarray()) if is_np_array() else (X, y)


def load_data_fashion_mnist(batch_size: int, resize: int | None = None,
                            root: str | os.PathLike | None = None, seed: int = 0,
                            subset: int | None = None, verify: bool = True,
                            ctx: object = None, augment: Augment | None = None,
                            ) -> tuple[FashionMNISTIter, FashionMNISTIter]:
    """``(train_iter, test_iter)`` as in the book, found offline (see
    :func:`find_fashion_mnist`). ``root='sample'`` uses the shipped sample;
    ``subset=N`` keeps the first N training images; the training batches are
    shuffled every epoch from ``seed``. Both iterators' ``source`` says where
    the data came from; ``augment`` shifts and flips the training batches.
    The numbers are checked by :class:`~d2lnets.config.RunConfig`'s bounds."""
    RunConfig(batch_size=batch_size, resize=resize, seed=seed, subset=subset, verify=verify)
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise UsageError(f"root must be a folder (a str or path), 'sample', or None; got {root!r}")
    sample = root is not None and str(root) == SAMPLE
    folder = None if sample else find_fashion_mnist(root)
    arrays = load_fashion_mnist_arrays(SAMPLE if sample else folder, verify=verify)
    (xtr, ytr), (xte, yte) = arrays["train"], arrays["test"]
    if subset is not None:
        xtr, ytr = xtr[:subset], ytr[:subset]
    train = FashionMNISTIter(xtr, ytr, batch_size, shuffle=True, resize=resize, seed=seed, ctx=ctx,
                             augment=augment)
    test = FashionMNISTIter(xte, yte, batch_size, shuffle=False, resize=resize, seed=seed, ctx=ctx)
    train.source = test.source = f"the shipped sample {SAMPLE_FILE}" if sample else str(folder)
    return train, test
