"""d2lnets against the book's own pipeline (and PyTorch), measured back to back.

    python bench/bench.py                 # everything (about 15 minutes on 2 cores)
    python bench/bench.py --quick         # a tiny run that only checks the bench works
    python bench/bench.py --only step,data --repeats 5

Each way runs in its own fresh process, in turns (a, b, c, a, b, c, ...), and the
median of the repeats is kept: these machines are shared and noisy, so the ratios
measured in one run are the figures, not the absolute times. The book's code
(bench/book_chapter.py) runs with MXNet's default thread count, as its readers run it.
Prints a table and writes JSON (default bench/results/latest.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# (model, batch, side)
STEP_CONFIGS = [("lenet_bn", 256, 28), ("resnet18", 64, 96), ("resnet18", 256, 96),
                ("densenet", 64, 96), ("densenet", 256, 96)]
QUICK_STEP_CONFIGS = [("lenet_bn", 32, 28), ("resnet18", 4, 32)]


# ----------------------------------------------------------------- child processes
def _child(args: list[str], env: dict | None = None, timeout: float = 3600) -> dict:
    full = dict(os.environ)
    full.pop("OMP_NUM_THREADS", None)  # each way picks its own threads
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), full.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    full.update(env or {})
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=full,
                       timeout=timeout, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _have(module: str) -> bool:
    r = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return r.returncode == 0


# --------------------------------------------------------------- d2lnets's side
def worker_step(model: str, batch: int, side: int, steps: int, amp: str | None = None) -> dict:
    """Training images/s of d2lnets as a user gets it: hybridized, all cores."""
    if amp:
        from mxnet.contrib import amp as mx_amp
        mx_amp.init(target_dtype=amp)
    from mxnet import autograd, gluon, init, nd

    import d2lnets as d2l

    net = d2l.get_model(model)
    net.initialize(init.Xavier())
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.05})
    if amp:
        from mxnet.contrib import amp as mx_amp
        mx_amp.init_trainer(trainer)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    X = nd.random.uniform(shape=(batch, 1, side, side))
    y = nd.array(nd.random.randint(0, 10, shape=(batch,)).asnumpy())

    def one() -> None:
        with autograd.record():
            out = loss(net(X), y)
        out.backward()
        trainer.step(batch)

    for _ in range(2):
        one()
    nd.waitall()
    start = time.perf_counter()
    for _ in range(steps):
        one()
    nd.waitall()
    return {"images_per_s": steps * batch / (time.perf_counter() - start)}


def worker_eval(model: str, batch: int, side: int, steps: int, backend: str | None) -> dict:
    """Prediction images/s, hybridized, optionally through optimize_for(backend)."""
    from mxnet import init, nd

    import d2lnets as d2l

    net = d2l.get_model(model)
    net.initialize(init.Xavier())
    X = nd.random.uniform(shape=(batch, 1, side, side))
    if backend:
        # optimize_for while the first forward is still running fails later with
        # "We can't generate TBlob for MKLDNN data" (MXNet 1.9.1): wait for it
        net(X).wait_to_read()
        net.optimize_for(X, backend=backend, static_alloc=True, static_shape=True)
    else:
        net.hybridize(static_alloc=True, static_shape=True)
    for _ in range(2):
        net(X).wait_to_read()
    start = time.perf_counter()
    for _ in range(steps):
        net(X).wait_to_read()
    return {"images_per_s": steps * batch / (time.perf_counter() - start)}


def worker_amp_accuracy(model: str, amp: str | None, images: int, epochs: int) -> dict:
    """Train on the first ``images`` training images (resize 96; the full set if
    installed, else the sample) and report the last epoch's figures, fp32 or AMP."""
    if amp:
        from mxnet.contrib import amp as mx_amp
        mx_amp.init(target_dtype=amp)
    import mxnet as mx
    from mxnet import gluon, init

    import d2lnets as d2l

    try:
        train_iter, test_iter = d2l.load_data_fashion_mnist(64, resize=96, subset=images)
        test_iter.images, test_iter.labels = test_iter.images[:2000], test_iter.labels[:2000]
    except d2l.DataError:
        train_iter, test_iter = d2l.load_data_fashion_mnist(64, resize=96, root="sample",
                                                            subset=images)
    d2l.set_seed(0)
    net = d2l.get_model(model)
    net.initialize(init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.05})
    if amp:
        from mxnet.contrib import amp as mx_amp
        mx_amp.init_trainer(trainer)
    start = time.perf_counter()
    hist = d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), epochs, log=None, seed=0)
    last = hist.epochs[-1]
    return {"loss": last["loss"], "train_acc": last["train_acc"], "test_acc": last["test_acc"],
            "seconds": time.perf_counter() - start}


def worker_peak() -> dict:
    """fp32 GEMM GFLOP/s: the better of BLAS (nd.dot) and oneDNN (FullyConnected)."""
    from mxnet import nd

    import d2lnets  # noqa: F401  (threads)

    n = 2048
    a, b = nd.random.uniform(shape=(n, n)), nd.random.uniform(shape=(n, n))
    ways = {"dot": lambda: nd.dot(a, b),
            "fully_connected": lambda: nd.FullyConnected(a, b, num_hidden=n, no_bias=True)}
    best = {}
    for name, run in ways.items():
        run().wait_to_read()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            run().wait_to_read()
            times.append(time.perf_counter() - start)
        best[name] = 2 * n ** 3 / min(times) / 1e9
    return {"gflops": max(best.values()), **{f"gflops_{k}": v for k, v in best.items()}}


def worker_data(side: int, root: str | None) -> dict:
    """d2lnets's pipeline alone: batches/s over whole training epochs. The first
    epoch scales and resizes the set once; the second is what every later epoch
    costs."""
    from mxnet import nd

    import d2lnets as d2l

    start = time.perf_counter()
    train_iter, _ = d2l.load_data_fashion_mnist(256, resize=side, root=root)
    read = time.perf_counter() - start
    rates = []
    for _ in range(2):
        start = time.perf_counter()
        n = 0
        for X, _ in train_iter:
            X.wait_to_read()
            n += 1
        nd.waitall()
        rates.append(n / (time.perf_counter() - start))
    return {"batches_per_s": rates[1], "first_epoch_batches_per_s": rates[0], "batches": n,
            "read_s": read}


def worker_macs(model: str, side: int) -> dict:
    import d2lnets as d2l
    return {"macs": d2l.summary(d2l.get_model(model), (1, 1, side, side), print_fn=None).total_macs}


WORKERS = {"step": worker_step, "eval": worker_eval, "amp_accuracy": worker_amp_accuracy,
           "peak": worker_peak, "data": worker_data, "macs": worker_macs}


def _ours(what: str, *args: object, env: dict | None = None, timeout: float = 3600) -> dict:
    return _child([str(HERE / "bench.py"), "--worker", what, *map(str, args)], env, timeout)


# ------------------------------------------------------------------ the sections
def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def section_step(configs: list, steps: int, repeats: int, torch: bool, peak: float | None) -> list:
    rows = []
    for model, batch, side in configs:
        runs: dict[str, list] = {"book": [], "d2lnets": [], "torch": []}
        n = max(2, steps if model != "lenet_bn" else steps * 5)
        for _ in range(repeats):
            runs["book"].append(_child([str(HERE / "book_chapter.py"), "step", model, str(batch),
                                        str(side), str(n)]))
            runs["d2lnets"].append(_ours("step", model, batch, side, n))
            if torch:
                runs["torch"].append(_child([str(HERE / "torch_chapter.py"), "step", model,
                                             str(batch), str(side), str(n)]))
        row = {"model": model, "batch": batch, "side": side,
               "book": median_of(runs["book"], "images_per_s"),
               "d2lnets": median_of(runs["d2lnets"], "images_per_s"),
               "torch": median_of(runs["torch"], "images_per_s") if runs["torch"] else None}
        row["vs_book"] = row["d2lnets"] / row["book"]
        row["vs_torch"] = row["d2lnets"] / row["torch"] if row["torch"] else None
        macs = _ours("macs", model, side)["macs"]
        row["train_gflops"] = 6 * macs * row["d2lnets"] / 1e9  # fwd + 2 bwd, 2 flops a MAC
        row["share_of_peak"] = row["train_gflops"] / peak if peak else None
        rows.append(row)
        _print_row(row)
    return rows


def _print_row(row: dict) -> None:
    torch = f"{row['torch']:8.1f}" if row["torch"] else "       -"
    share = f"{row['share_of_peak']:.2f}" if row["share_of_peak"] else "-"
    vs_torch = f"{row['vs_torch']:.2f}x" if row["vs_torch"] else "-"
    print(f"  {row['model']:<9} b{row['batch']:<4} {row['side']:>3}px  book {row['book']:8.1f}  "
          f"d2lnets {row['d2lnets']:8.1f}  torch {torch}  img/s   vs book {row['vs_book']:.2f}x  "
          f"vs torch {vs_torch}  {row['train_gflops']:.0f} GFLOP/s ({share} of peak)", flush=True)


def _epoch_lines(stdout: str) -> list[str]:
    return [ln for ln in stdout.splitlines() if ln.startswith("epoch ")]


EPOCH_RE = re.compile(r"epoch (\d+), loss ([\d.naif]+), train acc ([\d.]+), test acc ([\d.]+), "
                      r"time ([\d.]+) sec")


def _line_figures(line: str) -> dict:
    m = EPOCH_RE.match(line)
    if not m:
        raise ValueError(f"not an epoch line: {line!r}")
    return {"epoch": int(m[1]), "loss": float(m[2]), "train_acc": float(m[3]),
            "test_acc": float(m[4]), "time": float(m[5])}


def section_epoch(epochs: int, quick: bool) -> dict:
    """LeNet-BN end to end: d2lzh.train_ch5 on the book's DataLoader against
    `d2lnets train lenet-bn`, the same data, the same number of epochs."""
    import numpy as np
    arrays, data = _arrays(quick)
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "fashion.npz"
        np.savez(npz, train_images=arrays["train"][0], train_labels=arrays["train"][1],
                 test_images=arrays["test"][0], test_labels=arrays["test"][1])
        book = _child([str(HERE / "book_chapter.py"), "epoch", str(npz), str(epochs)])
        cmd = ["-m", "d2lnets", "train", "lenet-bn", "--epochs", str(epochs), "--out",
               str(Path(tmp) / "run"), "--no-progress"] + (["--data", "sample"] if data == "sample" else [])
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("OMP_NUM_THREADS", None)
        start = time.perf_counter()
        r = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, env=env, cwd=ROOT,
                           timeout=3600)
        ours_total = time.perf_counter() - start
        if r.returncode != 0:
            raise RuntimeError(r.stderr[-2000:])
    book_rows = [_line_figures(ln) for ln in book["lines"]]
    ours_rows = [_line_figures(ln) for ln in _epoch_lines(r.stdout)]
    out = {"data": data, "epochs": epochs, "book": book_rows, "d2lnets": ours_rows,
           "book_epoch_s": sum(x["time"] for x in book_rows),
           "d2lnets_epoch_s": sum(x["time"] for x in ours_rows),
           "book_process_s": book["total_s"], "d2lnets_process_s": ours_total}
    out["speedup"] = out["book_epoch_s"] / out["d2lnets_epoch_s"]
    print(f"  LeNet-BN {epochs} epochs ({data} data): book {out['book_epoch_s']:.1f} s, d2lnets "
          f"{out['d2lnets_epoch_s']:.1f} s of epochs -> {out['speedup']:.2f}x; last test acc book "
          f"{book_rows[-1]['test_acc']:.3f}, d2lnets {ours_rows[-1]['test_acc']:.3f}", flush=True)
    return out


def _arrays(quick: bool) -> tuple[dict, str]:
    sys.path.insert(0, str(ROOT))
    from d2lnets.data import DataError, load_fashion_mnist_arrays
    if not quick:
        try:
            return load_fashion_mnist_arrays(), "full"
        except DataError:
            pass
    return load_fashion_mnist_arrays("sample"), "sample"


def section_data(side: int, repeats: int, quick: bool) -> dict:
    """One epoch of batches at ``side`` px: the book's DataLoader against ours."""
    import numpy as np
    arrays, data = _arrays(quick)
    book, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "fashion.npz"
        np.savez(npz, train_images=arrays["train"][0], train_labels=arrays["train"][1],
                 test_images=arrays["test"][0], test_labels=arrays["test"][1])
        for _ in range(repeats):
            book.append(_child([str(HERE / "book_chapter.py"), "data", str(npz), str(side)]))
            ours.append(_ours("data", side, "sample" if data == "sample" else ""))
    out = {"side": side, "data": data, "book_batches_per_s": median_of(book, "batches_per_s"),
           "d2lnets_batches_per_s": median_of(ours, "batches_per_s"),
           "d2lnets_first_epoch_batches_per_s": median_of(ours, "first_epoch_batches_per_s")}
    out["speedup"] = out["d2lnets_batches_per_s"] / out["book_batches_per_s"]
    out["first_epoch_speedup"] = out["d2lnets_first_epoch_batches_per_s"] / out["book_batches_per_s"]
    print(f"  data at {side}px, batch 256: book DataLoader {out['book_batches_per_s']:.1f} batches/s, "
          f"d2lnets {out['d2lnets_batches_per_s']:.1f} -> {out['speedup']:.1f}x (first epoch, which "
          f"prepares the set once: {out['d2lnets_first_epoch_batches_per_s']:.1f} -> "
          f"{out['first_epoch_speedup']:.1f}x)", flush=True)
    return out


def section_amp(configs: list, steps: int, repeats: int, accuracy: bool) -> list:
    rows = []
    for model, batch, side in configs:
        fp32, bf16 = [], []
        for _ in range(repeats):
            fp32.append(_ours("step", model, batch, side, steps))
            bf16.append(_ours("step", model, batch, side, steps, "bfloat16"))
        row = {"model": model, "batch": batch, "fp32": median_of(fp32, "images_per_s"),
               "bf16": median_of(bf16, "images_per_s")}
        row["speedup"] = row["bf16"] / row["fp32"]
        if accuracy:
            row["fp32_acc"] = _ours("amp_accuracy", model, "", 3000, 2)
            row["bf16_acc"] = _ours("amp_accuracy", model, "bfloat16", 3000, 2)
        rows.append(row)
        acc = "".join(f"; {k} loss {row[k + '_acc']['loss']:.3f}, train acc "
                      f"{row[k + '_acc']['train_acc']:.3f}, test acc {row[k + '_acc']['test_acc']:.3f}"
                      for k in ("fp32", "bf16")) if accuracy else ""
        print(f"  AMP bf16 {model} b{batch}: fp32 {row['fp32']:.1f}, bf16 {row['bf16']:.1f} img/s "
              f"-> {row['speedup']:.2f}x{acc}", flush=True)
    return rows


def section_eval(configs: list, steps: int, repeats: int) -> list:
    rows = []
    for model, batch, side in configs:
        hyb, mkl = [], []
        for _ in range(repeats):
            hyb.append(_ours("eval", model, batch, side, steps, ""))
            mkl.append(_ours("eval", model, batch, side, steps, "MKLDNN"))
        row = {"model": model, "batch": batch, "hybridized": median_of(hyb, "images_per_s"),
               "optimize_for_mkldnn": median_of(mkl, "images_per_s")}
        row["speedup"] = row["optimize_for_mkldnn"] / row["hybridized"]
        rows.append(row)
        print(f"  eval {model} b{batch}: hybridized {row['hybridized']:.1f}, optimize_for(MKLDNN) "
              f"{row['optimize_for_mkldnn']:.1f} img/s -> {row['speedup']:.2f}x", flush=True)
    return rows


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes, one repeat: checks the bench runs")
    p.add_argument("--only", default="peak,step,epoch,data,amp,eval",
                   help="comma list of sections: peak,step,epoch,data,amp,eval")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=6, help="timed steps per measurement (x5 for LeNet)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--out", default=str(HERE / "results" / "latest.json"))
    p.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        what, *rest = args.worker
        fn = WORKERS[what]
        conv = [int(x) if x.lstrip("-").isdigit() else (x or None) for x in rest]
        print(json.dumps(fn(*conv)))
        return 0

    sections = set(args.only.split(","))
    unknown = sections - {"peak", "step", "epoch", "data", "amp", "eval"}
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    quick = args.quick
    repeats = 1 if quick else args.repeats
    steps = 2 if quick else args.steps
    configs = QUICK_STEP_CONFIGS if quick else STEP_CONFIGS
    torch = _have("torch")
    result: dict = {"machine": machine(), "quick": quick, "repeats": repeats,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "torch": torch}
    print(f"bench: {result['machine'].get('cpu', '?')}, {result['machine']['cores']} cores; "
          f"{repeats} repeat(s), medians; PyTorch {'yes' if torch else 'not installed: skipped'}")
    peak = None
    if "peak" in sections or "step" in sections:
        result["peak"] = _ours("peak")
        peak = result["peak"]["gflops"]
        print(f"  fp32 GEMM peak: {peak:.0f} GFLOP/s", flush=True)
    if "step" in sections:
        result["step"] = section_step(configs, steps, repeats, torch, peak)
    if "epoch" in sections:
        if _have("d2lzh"):
            result["epoch"] = section_epoch(1 if quick else args.epochs, quick)
        else:
            print("  LeNet-BN epochs: d2lzh is not installed (pip install --no-deps d2lzh==1.0.0 "
                  "ipython): skipped", flush=True)
    if "data" in sections:
        result["data"] = section_data(96, repeats, quick)
    if "amp" in sections:
        amp_cfg = [c for c in configs if c[0] != "lenet_bn"][:1] if quick else \
            [("resnet18", 64, 96), ("densenet", 64, 96)]
        result["amp"] = section_amp(amp_cfg, steps, repeats, accuracy=not quick)
    if "eval" in sections:
        eval_cfg = [("resnet18", 4, 32)] if quick else [("resnet18", 256, 96), ("densenet", 256, 96)]
        result["eval"] = section_eval(eval_cfg, steps, repeats)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"bench: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
