"""The later editions' chapter code on the real d2l package and on d2lnets.mxnet,
on the same machine in the same run: each section's training call timed end to
end (data, steps and evaluation), one process per package and section.

    python bench/editions.py [--train N] [--epochs E] [--sections v2_resnet ...]

The chapter files are tests/editions/*.py (the books' code); for d2l the import
line is changed back to `from d2l import mxnet as d2l` and nothing else. Both
read the same Fashion-MNIST files: d2l through Gluon's FashionMNIST (its .gz
checksum, which a recompressed copy fails, is the one thing waved through), 4
DataLoader workers and its train_ch6 / Trainer; d2lnets through its own
iterator. Both train on the first N training images and N/6 test images (the
whole set with --train 60000) for E epochs. Writes bench/results/editions.json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the environment as the reader has it: importing d2lnets here (to find the data) sets
#: OMP_NUM_THREADS in this process, which d2l's process must not inherit
READER_ENV = dict(os.environ)
CODE = ROOT / "tests" / "editions"
SECTIONS = ["v2_batch_norm", "v2_resnet", "v2_densenet", "v1_0_batch_norm", "v1_0_resnet",
            "v1_0_densenet"]
PACKAGE = {"v2": "0.17.6", "v1_0": "1.0.3"}

# run before the chapter's code in its process: cap the epochs, cut the data to
# --train images, time each training call, print one JSON line a call
PRELUDE = '''
import json, os, sys, time
EPOCHS, TRAIN = int(os.environ["BENCH_EPOCHS"]), int(os.environ["BENCH_TRAIN"])
if os.environ["BENCH_IMPL"] == "d2l":
    import mxnet.gluon.utils as gu
    gu.check_sha1 = lambda *a, **k: True
    from mxnet.gluon.data.vision import datasets as ds
    _get = ds.FashionMNIST._get_data
    def _cut(self):
        _get(self)
        n = TRAIN if self._train else max(TRAIN // 6, 1)
        self._data, self._label = self._data[:n], self._label[:n]
    ds.FashionMNIST._get_data = _cut
    from d2l import mxnet as d2l
else:
    from d2lnets import mxnet as d2l
    import d2lnets.editions.data as dd
    _iters = dd._iters
    def _cut(batch_size, resize):
        train, test = _iters(batch_size, resize)
        train.images, train.labels = train.images[:TRAIN], train.labels[:TRAIN]
        n = max(TRAIN // 6, 1)
        test.images, test.labels = test.images[:n], test.labels[:n]
        return train, test
    dd._iters = _cut
def _timed(fn, what):
    def run(*args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        print("BENCH " + json.dumps({"call": what, "seconds": time.perf_counter() - start,
                                     "threads": os.environ.get("OMP_NUM_THREADS", "MXNet's")}),
              flush=True)
        return out
    return run
_ch6 = d2l.train_ch6
d2l.train_ch6 = _timed(lambda net, tr, te, n, lr, dev: _ch6(net, tr, te, EPOCHS, lr, dev), "train_ch6")
if hasattr(d2l, "Trainer"):  # the 1.0 edition
    _init = d2l.Trainer.__init__
    d2l.Trainer.__init__ = lambda self, max_epochs, num_gpus=0, gradient_clip_val=0: _init(
        self, EPOCHS, num_gpus, gradient_clip_val)
    d2l.Trainer.fit = _timed(d2l.Trainer.fit, "Trainer.fit")
'''


def reference(version: str) -> Path:
    folder = ROOT / ".cache" / "d2l-reference" / version
    if not (folder / "d2l" / "mxnet.py").is_file():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        str(folder), f"d2l=={version}"], check=True)
    return folder


def gluon_home(data: Path) -> str:
    """An MXNET_HOME whose datasets/fashion-mnist holds links to the .gz files."""
    home = Path(tempfile.mkdtemp(prefix="d2lnets-bench-"))
    folder = home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    for f in data.glob("*-ubyte.gz"):
        (folder / f.name).symlink_to(f)
    return str(home)


def run(section: str, impl: str, args: argparse.Namespace, home: str) -> list[dict]:
    code = (CODE / f"{section}.py").read_text()
    if impl == "d2l":
        code = code.replace("from d2lnets import mxnet as d2l", "from d2l import mxnet as d2l")
    env = {**READER_ENV, "BENCH_IMPL": impl, "BENCH_EPOCHS": str(args.epochs),
           "BENCH_TRAIN": str(args.train), "MPLBACKEND": "Agg", "MXNET_HOME": home}
    env.pop("D2LNETS_QUICK", None)
    if impl == "d2l":
        env["PYTHONPATH"] = str(reference(PACKAGE["v2" if section.startswith("v2") else "v1_0"]))
    r = subprocess.run([sys.executable, "-c", PRELUDE + code], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=7200)
    if r.returncode != 0:
        raise SystemExit(f"{section} on {impl} failed:\n{r.stderr[-3000:]}")
    return [json.loads(ln[6:]) for ln in r.stdout.splitlines() if ln.startswith("BENCH ")]


def load() -> tuple[float, float]:
    one, five, _ = os.getloadavg()
    return round(one, 2), round(five, 2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", type=int, default=60000, help="training images (test: N/6)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--sections", nargs="+", default=SECTIONS, choices=SECTIONS)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "editions.json"))
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    from d2lnets.data import find_fashion_mnist
    home = gluon_home(find_fashion_mnist())
    rows, started = [], load()
    for section in args.sections:
        theirs, ours = run(section, "d2l", args, home), run(section, "d2lnets", args, home)
        for t, o in zip(theirs, ours):
            rows.append({"section": section, "call": t["call"], "d2l_s": round(t["seconds"], 2),
                         "d2lnets_s": round(o["seconds"], 2), "d2l_threads": t["threads"],
                         "d2lnets_threads": o["threads"],
                         "ratio": round(t["seconds"] / o["seconds"], 2)})
            print(f"{section:16} {t['call']:12} d2l {t['seconds']:8.1f} s   d2lnets "
                  f"{o['seconds']:8.1f} s   {rows[-1]['ratio']:.2f}x", flush=True)
    record = {"train_images": args.train, "epochs": args.epochs, "rows": rows,
              "load_before": started, "load_after": load(), "cpus": os.cpu_count(),
              "when": time.strftime("%Y-%m-%d %H:%M")}
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
