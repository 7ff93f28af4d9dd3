"""The chapter's own code, as its readers run it: the reference for bench/bench.py.

Written from the chapter (d2lzh, MXNet edition): ``nn.Block`` / ``nn.Sequential``
models run imperatively, the book's DataLoader pipeline and ``d2lzh.train_ch5``. It
must not import d2lnets (which changes MXNet's thread count): it runs in its own
process with MXNet's defaults and prints one JSON line.

    python bench/book_chapter.py step  MODEL BATCH SIZE STEPS
    python bench/book_chapter.py epoch NPZ EPOCHS          # LeNet-BN with d2lzh.train_ch5
    python bench/book_chapter.py data  NPZ RESIZE          # the DataLoader alone
"""
import json
import sys
import time

import numpy as np
from mxnet import autograd, gluon, init, nd
from mxnet.gluon import data as gdata
from mxnet.gluon import nn


# ---- the chapter's networks ------------------------------------------------------
def lenet_bn():
    net = nn.Sequential()
    net.add(nn.Conv2D(6, kernel_size=5), nn.BatchNorm(), nn.Activation("sigmoid"),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Conv2D(16, kernel_size=5), nn.BatchNorm(), nn.Activation("sigmoid"),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Dense(120), nn.BatchNorm(), nn.Activation("sigmoid"),
            nn.Dense(84), nn.BatchNorm(), nn.Activation("sigmoid"),
            nn.Dense(10))
    return net


class Residual(nn.Block):
    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = nn.Conv2D(num_channels, kernel_size=3, padding=1, strides=strides)
        self.conv2 = nn.Conv2D(num_channels, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2D(num_channels, kernel_size=1, strides=strides) if use_1x1conv else None
        self.bn1 = nn.BatchNorm()
        self.bn2 = nn.BatchNorm()

    def forward(self, X):
        Y = nd.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        return nd.relu(Y + X)


def resnet_block(num_channels, num_residuals, first_block=False):
    blk = nn.Sequential()
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.add(Residual(num_channels, use_1x1conv=True, strides=2))
        else:
            blk.add(Residual(num_channels))
    return blk


def resnet18():
    net = nn.Sequential()
    net.add(nn.Conv2D(64, kernel_size=7, strides=2, padding=3), nn.BatchNorm(),
            nn.Activation("relu"), nn.MaxPool2D(pool_size=3, strides=2, padding=1))
    net.add(resnet_block(64, 2, first_block=True), resnet_block(128, 2), resnet_block(256, 2),
            resnet_block(512, 2))
    net.add(nn.GlobalAvgPool2D(), nn.Dense(10))
    return net


def conv_block(num_channels):
    blk = nn.Sequential()
    blk.add(nn.BatchNorm(), nn.Activation("relu"), nn.Conv2D(num_channels, kernel_size=3, padding=1))
    return blk


class DenseBlock(nn.Block):
    def __init__(self, num_convs, num_channels, **kwargs):
        super().__init__(**kwargs)
        self.net = nn.Sequential()
        for _ in range(num_convs):
            self.net.add(conv_block(num_channels))

    def forward(self, X):
        for blk in self.net:
            Y = blk(X)
            X = nd.concat(X, Y, dim=1)
        return X


def transition_block(num_channels):
    blk = nn.Sequential()
    blk.add(nn.BatchNorm(), nn.Activation("relu"), nn.Conv2D(num_channels, kernel_size=1),
            nn.AvgPool2D(pool_size=2, strides=2))
    return blk


def densenet():
    net = nn.Sequential()
    net.add(nn.Conv2D(64, kernel_size=7, strides=2, padding=3), nn.BatchNorm(),
            nn.Activation("relu"), nn.MaxPool2D(pool_size=3, strides=2, padding=1))
    num_channels, growth_rate = 64, 32
    num_convs_in_dense_blocks = [4, 4, 4, 4]
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        net.add(DenseBlock(num_convs, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(num_convs_in_dense_blocks) - 1:
            num_channels //= 2
            net.add(transition_block(num_channels))
    net.add(nn.BatchNorm(), nn.Activation("relu"), nn.GlobalAvgPool2D(), nn.Dense(10))
    return net


MODELS = {"lenet_bn": lenet_bn, "resnet18": resnet18, "densenet": densenet}


# ---- measurements ------------------------------------------------------------------
def step(model, batch, size, steps):
    """Training steps per second as the book's train_ch5 runs them (imperative,
    one .asscalar() per batch)."""
    net = MODELS[model]()
    net.initialize(init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.05})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    X = nd.random.uniform(shape=(batch, 1, size, size))
    y = nd.array(np.random.randint(0, 10, size=batch))

    def one():
        with autograd.record():
            y_hat = net(X)
            batch_loss = loss(y_hat, y).sum()
        batch_loss.backward()
        trainer.step(batch)
        batch_loss.asscalar()
        (y_hat.argmax(axis=1) == y.astype("float32")).sum().asscalar()

    for _ in range(2):
        one()
    start = time.perf_counter()
    for _ in range(steps):
        one()
    return {"images_per_s": steps * batch / (time.perf_counter() - start)}


def _loaders(npz, batch_size, resize=None):
    """The book's load_data_fashion_mnist pipeline, fed arrays instead of Gluon's
    FashionMNIST (which rejects Debian's files and has no network here)."""
    z = np.load(npz)
    train = gdata.ArrayDataset(nd.array(z["train_images"][..., None], dtype="uint8"), z["train_labels"])
    test = gdata.ArrayDataset(nd.array(z["test_images"][..., None], dtype="uint8"), z["test_labels"])
    trans = [gdata.vision.transforms.Resize(resize)] if resize else []
    trans.append(gdata.vision.transforms.ToTensor())
    transformer = gdata.vision.transforms.Compose(trans)
    num_workers = 0 if sys.platform.startswith("win32") else 4
    return (gdata.DataLoader(train.transform_first(transformer), batch_size, shuffle=True,
                             num_workers=num_workers),
            gdata.DataLoader(test.transform_first(transformer), batch_size, shuffle=False,
                             num_workers=num_workers))


def epoch(npz, epochs):
    """The chapter's LeNet-BN example with d2lzh.train_ch5, its lines parsed."""
    import contextlib
    import io

    import d2lzh as d2l
    train_iter, test_iter = _loaders(npz, 256)
    net = lenet_bn()
    lr, num_epochs, batch_size, ctx = 1.0, int(epochs), 256, d2l.try_gpu()
    net.initialize(ctx=ctx, init=init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    buf = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        d2l.train_ch5(net, train_iter, test_iter, batch_size, trainer, ctx, num_epochs)
    total = time.perf_counter() - start
    lines = [ln for ln in buf.getvalue().splitlines() if ln.startswith("epoch")]
    return {"total_s": total, "lines": lines}


def data(npz, resize):
    """The book's DataLoader alone: batches/s over one whole training epoch."""
    train_iter, _ = _loaders(npz, 256, int(resize))
    start = time.perf_counter()
    n = 0
    for X, _ in train_iter:
        X.wait_to_read()
        n += 1
    return {"batches_per_s": n / (time.perf_counter() - start), "batches": n}


if __name__ == "__main__":
    what, *args = sys.argv[1:]
    if what == "step":
        out = step(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif what == "epoch":
        out = epoch(args[0], args[1])
    elif what == "data":
        out = data(args[0], args[1])
    else:
        raise SystemExit(f"unknown measurement {what!r}")
    print(json.dumps(out))
