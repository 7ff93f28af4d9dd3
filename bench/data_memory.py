"""Peak RSS and first-batch latency of the data path, in a fresh process.

    python bench/data_memory.py            # d2lnets (this checkout)
    python bench/data_memory.py --json F   # also write the figures as JSON

Measures ``load_data_fashion_mnist(256, resize=96)`` plus one shuffled epoch
(every batch materialised, as a training step would), on the full set
(Debian's folder, or --data), and the time from the data being read to the
first batch, and the batches per second of the epoch.
"""
from __future__ import annotations

import argparse
import json
import resource
import time


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=None)
    p.add_argument("--resize", type=int, default=96)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import d2lnets as d2l
    from d2lnets.data import load_fashion_mnist_arrays
    load_fashion_mnist_arrays(args.data)  # read (and checksum) the files first
    t0 = time.time()
    train_iter, _ = d2l.load_data_fashion_mnist(256, resize=args.resize, root=args.data)
    batches = iter(train_iter)
    X, _ = next(batches)
    X.wait_to_read()
    first = time.time() - t0
    t1, n = time.time(), 1
    for X, _y in batches:
        X.wait_to_read()
        n += 1
    rate = (n - 1) / (time.time() - t1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"first_batch_s": round(first, 3), "batches_per_s": round(rate, 1),
           "peak_rss_mb": round(peak, 1), "resize": args.resize}
    print(json.dumps(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
