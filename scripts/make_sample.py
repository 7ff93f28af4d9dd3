"""Build d2lnets/sample/fashion_mnist_sample.npz from the full Fashion-MNIST set.

Stratified and deterministic: the first 100 training and first 50 test images of
each class, in file order (1,000 + 500 images). Run from the repo root:
    python scripts/make_sample.py [FOLDER]
"""
import sys
from pathlib import Path

import numpy as np

from d2lnets.data import SAMPLE_FILE, load_fashion_mnist_arrays


def pick(labels: np.ndarray, per_class: int) -> np.ndarray:
    idx = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)])
    return np.sort(idx)


def main() -> None:
    arrays = load_fashion_mnist_arrays(sys.argv[1] if len(sys.argv) > 1 else None)
    out = {}
    for split, per_class in (("train", 100), ("test", 50)):
        images, labels = arrays[split]
        idx = pick(labels, per_class)
        out[f"{split}_images"], out[f"{split}_labels"] = images[idx], labels[idx].astype(np.int32)
        out[f"{split}_source_index"] = idx.astype(np.int32)
    Path(SAMPLE_FILE).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(SAMPLE_FILE, **out)
    print(f"wrote {SAMPLE_FILE}: {len(out['train_labels'])} train, {len(out['test_labels'])} test")


if __name__ == "__main__":
    main()
