"""Fashion-MNIST offline: the IDX reader, the search order, batches and the sample."""
import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import idx_bytes, write_fake_set, write_idx
from mxnet import nd
from mxnet.gluon.data.vision import transforms

import d2lnets as d2l
from d2lnets import data as D

REAL = Path(D.DEBIAN_DIR)
HAVE_REAL = (REAL / "train-images-idx3-ubyte.gz").is_file()


# ---- the IDX reader -----------------------------------------------------------------
def test_read_idx_round_trip(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    for compress in (True, False):
        path = write_idx(tmp_path / f"x{compress}", arr, compress=compress)
        np.testing.assert_array_equal(D.read_idx(path, 3, 7), arr)


def test_read_idx_truncated(tmp_path):
    raw = idx_bytes(np.zeros((5, 28, 28), np.uint8))
    path = tmp_path / "t.gz"
    with gzip.open(path, "wb") as f:
        f.write(raw[:-100])
    with pytest.raises(D.DataError, match=r"t\.gz.*truncated"):
        D.read_idx(path)


def test_read_idx_truncated_gzip_stream(tmp_path):
    path = write_idx(tmp_path / "g", np.zeros((50, 28, 28), np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(D.DataError, match=r"g\.gz.*(truncated|corrupt)"):
        D.read_idx(path)


def test_read_idx_wrong_magic(tmp_path):
    path = tmp_path / "m"
    path.write_bytes(b"\x12\x34\x08\x03" + bytes(100))
    with pytest.raises(D.DataError, match="bad IDX magic"):
        D.read_idx(path)


def test_read_idx_wrong_count_and_dims(tmp_path):
    path = write_idx(tmp_path / "c", np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(D.DataError, match="5 items, expected 6"):
        D.read_idx(path, 3, 6)
    with pytest.raises(D.DataError, match="3 dimensions, expected 1"):
        D.read_idx(path, 1)


def test_read_idx_too_long(tmp_path):
    path = tmp_path / "l"
    path.write_bytes(idx_bytes(np.zeros((2, 3), np.uint8)) + b"\0")
    with pytest.raises(D.DataError, match="too long"):
        D.read_idx(path)


def test_fake_set_fails_the_checksum(tmp_path, monkeypatch):
    write_fake_set(tmp_path / "fake", n_train=60000 // 1000, n_test=10)
    with pytest.raises(D.DataError, match="expected 60000|checksum"):
        D.load_fashion_mnist_arrays(tmp_path / "fake")
    arrays = D.load_fashion_mnist_arrays(tmp_path / "fake", verify=False)
    assert arrays["train"][0].shape == (60, 28, 28) and arrays["test"][1].dtype == np.int32


# ---- where the data is found ------------------------------------------------------------
@pytest.fixture
def places(tmp_path, monkeypatch):
    """Search locations pointed at empty temporary folders; no network."""
    env, home, debian = tmp_path / "env", tmp_path / "mxhome", tmp_path / "debian"
    monkeypatch.delenv("D2LNETS_DATA", raising=False)
    monkeypatch.setenv("MXNET_HOME", str(home))
    monkeypatch.setattr(D, "DEBIAN_DIR", str(debian))
    calls = []

    def no_network(url, dest, sha1):
        calls.append(url)
        raise OSError("network unreachable")
    monkeypatch.setattr(D, "download", no_network)
    return {"env": env, "cache": home / "datasets" / "fashion-mnist", "debian": debian,
            "root": tmp_path / "root", "calls": calls}


def test_search_order(places, monkeypatch):
    write_fake_set(places["debian"])
    assert D.find_fashion_mnist() == places["debian"]
    write_fake_set(places["cache"])
    assert D.find_fashion_mnist() == places["cache"]  # Gluon's cache wins over Debian's
    write_fake_set(places["env"])
    monkeypatch.setenv("D2LNETS_DATA", str(places["env"]))
    assert D.find_fashion_mnist() == places["env"]
    write_fake_set(places["root"])
    assert D.find_fashion_mnist(places["root"]) == places["root"]
    assert places["calls"] == []


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_text("x"), "is a file, not a folder"),
    (lambda p: p.mkdir(), "holds no Fashion-MNIST files"),
], ids=["missing", "a-file", "empty"])
def test_a_named_folder_is_never_passed_over(places, monkeypatch, make, message):
    """--data /typo must not train on the data found elsewhere."""
    write_fake_set(places["cache"])
    make(places["root"])
    with pytest.raises(D.DataError, match=message) as err:
        D.find_fashion_mnist(places["root"])
    assert str(places["root"]) in str(err.value)
    monkeypatch.setenv("D2LNETS_DATA", str(places["root"]))
    with pytest.raises(D.DataError, match=r"\$D2LNETS_DATA .*" + message):
        D.find_fashion_mnist()
    assert places["calls"] == []


def test_partial_folder_names_missing_files(places, monkeypatch):
    write_fake_set(places["env"])
    (places["env"] / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("D2LNETS_DATA", str(places["env"]))
    with pytest.raises(D.DataError, match="missing t10k-labels-idx1-ubyte.gz"):
        D.find_fashion_mnist()


def test_nothing_found_lists_every_place(places):
    with pytest.raises(D.DataError) as err:
        D.find_fashion_mnist()
    text = str(err.value)
    for key in ("cache", "debian"):
        assert str(places[key]) in text
    assert "apt-get install dataset-fashion-mnist" in text and "root='sample'" in text
    assert len(places["calls"]) == 1  # it tried the mirror once


def test_the_iterators_say_where_the_data_came_from(places):
    write_fake_set(places["cache"])
    train_iter, test_iter = D.load_data_fashion_mnist(8, verify=False)
    assert train_iter.source == test_iter.source == str(places["cache"])
    assert "shipped sample" in D.load_data_fashion_mnist(8, root="sample")[0].source


def test_download_into_the_cache(places, monkeypatch):
    fake = write_fake_set(places["root"].parent / "mirror")

    def fetch(url, dest, sha1):
        assert url.startswith(D.MIRROR) and sha1 == D.GZ_SHA1[Path(url).name[:-3]]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fake / Path(url).name, dest)
    monkeypatch.setattr(D, "download", fetch)
    assert D.find_fashion_mnist() == places["cache"]
    assert len(list(places["cache"].glob("*.gz"))) == 4


# ---- batches ---------------------------------------------------------------------------
def test_sample_is_stratified():
    arrays = D.load_fashion_mnist_arrays("sample")
    (xtr, ytr), (xte, yte) = arrays["train"], arrays["test"]
    assert xtr.shape == (1000, 28, 28) and xte.shape == (500, 28, 28) and xtr.dtype == np.uint8
    assert np.bincount(ytr).tolist() == [100] * 10 and np.bincount(yte).tolist() == [50] * 10


def test_batches_shape_range_and_count():
    train, test = d2l.load_data_fashion_mnist(256, root="sample")
    batches = list(train)
    assert len(batches) == len(train) == 4
    X, y = batches[0]
    assert X.shape == (256, 1, 28, 28) and X.dtype == np.float32 and y.dtype == np.int32
    assert batches[-1][0].shape[0] == 1000 - 3 * 256
    assert 0.0 <= float(X.min().asscalar()) and float(X.max().asscalar()) <= 1.0
    images = D.load_fashion_mnist_arrays("sample")["test"][0]
    Xt, _ = next(iter(test))  # not shuffled: the first test images, scaled
    np.testing.assert_allclose(Xt[:, 0].asnumpy(), images[:256] / 255.0, rtol=1e-6)


def test_resize_matches_the_books_transform():
    _, test = d2l.load_data_fashion_mnist(8, resize=96, root="sample")
    X, _ = next(iter(test))
    assert X.shape == (8, 1, 96, 96)
    img = D.load_fashion_mnist_arrays("sample")["test"][0][0]
    book = transforms.Compose([transforms.Resize(96), transforms.ToTensor()])
    ref = book(nd.array(img[:, :, None], dtype="uint8")).asnumpy()
    # the book resizes uint8 pixels (rounding to 1/255); we resize floats
    np.testing.assert_allclose(X[0].asnumpy(), ref, atol=1.01 / 255)


def test_shuffle_is_per_epoch_and_seeded():
    def labels(seed, epoch):
        train, _ = d2l.load_data_fashion_mnist(100, root="sample", seed=seed)
        return np.concatenate([y.asnumpy() for _, y in train.epoch(epoch)])
    a0, a1 = labels(0, 0), labels(0, 1)
    assert not np.array_equal(a0, a1)  # a new order every epoch
    np.testing.assert_array_equal(a0, labels(0, 0))  # the same seed repeats
    assert not np.array_equal(a0, labels(1, 0))
    assert sorted(a0.tolist()) == sorted(D.load_fashion_mnist_arrays("sample")["train"][1].tolist())
    train, _ = d2l.load_data_fashion_mnist(100, root="sample", seed=0)
    rest = np.concatenate([y.asnumpy() for _, y in train.epoch(1, start_batch=3)])
    np.testing.assert_array_equal(rest, a1[300:])  # resuming mid-epoch


def test_subset_and_shard():
    train, _ = d2l.load_data_fashion_mnist(10, root="sample", subset=30)
    assert train.num_examples == 30 and len(train) == 3
    train.shard(1, 3)
    assert train.num_examples == 10
    with pytest.raises(ValueError, match="subset must be a positive"):
        d2l.load_data_fashion_mnist(10, root="sample", subset=0)
    with pytest.raises(ValueError, match="batch_size must be a positive"):
        d2l.load_data_fashion_mnist(0, root="sample")


def test_labels_and_show_headless(tmp_path):
    assert d2l.get_fashion_mnist_labels([0, 9, 5]) == ["t-shirt", "ankle boot", "sandal"]
    train, _ = d2l.load_data_fashion_mnist(5, root="sample")
    X, y = next(iter(train))
    path = tmp_path / "show.png"
    fig = d2l.show_fashion_mnist(X, d2l.get_fashion_mnist_labels(y.asnumpy()), path=str(path))
    assert len(fig.axes) == 5 and path.stat().st_size > 1000


@pytest.mark.realdata
@pytest.mark.skipif(not HAVE_REAL, reason="dataset-fashion-mnist is not installed")
def test_real_set_and_a_recompressed_copy(tmp_path):
    arrays = D.load_fashion_mnist_arrays(REAL)
    assert arrays["train"][0].shape == (60000, 28, 28) and arrays["test"][0].shape == (10000, 28, 28)
    assert np.bincount(arrays["train"][1]).tolist() == [6000] * 10
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in REAL.glob("*.gz"):
        with gzip.open(p) as src, gzip.open(copy / p.name, "wb", compresslevel=1) as dst:
            dst.write(src.read())  # a different .gz, the same content
    assert (copy / "train-labels-idx1-ubyte.gz").read_bytes() != (REAL / "train-labels-idx1-ubyte.gz").read_bytes()
    again = D.load_fashion_mnist_arrays(copy)
    np.testing.assert_array_equal(again["test"][0], arrays["test"][0])
    # one flipped pixel: the content checksum catches it
    raw = bytearray(gzip.open(copy / "t10k-images-idx3-ubyte.gz").read())
    raw[5000] ^= 1
    with gzip.open(copy / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes(raw))
    with pytest.raises(D.DataError, match="t10k-images.*checksum"):
        D.load_fashion_mnist_arrays(copy)


def test_a_download_cut_off_part_way_is_completed_next_time(places, monkeypatch):
    fake = write_fake_set(places["root"].parent / "mirror")
    fetched = []

    def fetch(url, dest, sha1, fail_after=None):
        if fail_after is not None and len(fetched) >= fail_after:
            raise OSError("connection reset")
        fetched.append(Path(url).name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fake / Path(url).name, dest)
    with pytest.raises(D.DataError, match="could not download"):
        D.find_fashion_mnist(downloader=lambda u, d, s: fetch(u, d, s, fail_after=2))
    assert len(list(places["cache"].glob("*.gz"))) == 2
    assert D.find_fashion_mnist(downloader=fetch) == places["cache"]
    assert len(fetched) == 4  # the two that were there were not fetched again


def test_images_larger_than_the_resize_bound_are_refused_from_the_header(tmp_path):
    """4096x4096 images took 5 GB and trained on, the banner saying 28: the header's
    sides are checked before the payload is read (this file has no payload at all)."""
    import struct
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">HBBIII", 0, 0x08, 3, 60, 4096, 4096))
    with pytest.raises(D.DataError, match=f"4096x4096 pixels.*at most {D.MAX_IMAGE_SIDE}"):
        D.read_idx(path, 3)


def test_a_data_path_no_folder_can_have_is_a_data_error_not_a_bug(tmp_path):
    with pytest.raises(D.DataError, match="cannot be a folder here"):
        D.find_local("x" * 100_000)
    r = subprocess.run([sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data",
                        "y" * 100_000, "--out", str(tmp_path / "o")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and "cannot be a folder here" in r.stderr
    assert "internal error" not in r.stderr
