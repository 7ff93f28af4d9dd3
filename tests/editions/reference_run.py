"""One training run through d2l's calls, printed as JSON: run once on the real
d2l package (PYTHONPATH holds it) and once on d2lnets.mxnet, from the same
initial weights and the same batches, by tests/test_editions.py.

    python reference_run.py d2l|d2lnets ch6|fit lenet|residual
"""
import json
import sys

import mxnet as mx
import numpy as onp
from mxnet import np, npx
from mxnet.gluon import nn

impl, api, case = sys.argv[1:4]
if impl == "d2l":
    import d2l.mxnet as where_ch6
    from d2l import mxnet as d2l
else:
    import d2lnets.editions.ch6 as where_ch6
    from d2lnets import mxnet as d2l
npx.set_np()

SAMPLE = onp.load(sys.argv[4])


def batches(split, n, size):
    X = SAMPLE[f"{split}_images"][: n * size].astype("float32") / 255
    y = SAMPLE[f"{split}_labels"][: n * size].astype("int32")
    return [(np.array(X[i:i + size].reshape(-1, 1, 28, 28)), np.array(y[i:i + size]))
            for i in range(0, n * size, size)]


def lenet():
    net = nn.Sequential()
    net.add(nn.Conv2D(6, kernel_size=5), nn.BatchNorm(), nn.Activation("sigmoid"),
            nn.AvgPool2D(pool_size=2, strides=2), nn.Conv2D(16, kernel_size=5), nn.BatchNorm(),
            nn.Activation("sigmoid"), nn.AvgPool2D(pool_size=2, strides=2), nn.Dense(120),
            nn.BatchNorm(), nn.Activation("sigmoid"), nn.Dense(84), nn.BatchNorm(),
            nn.Activation("sigmoid"), nn.Dense(10))
    return net


def residual():
    net = nn.Sequential()
    net.add(nn.Conv2D(8, kernel_size=3, padding=1), nn.BatchNorm(), nn.Activation("relu"),
            d2l.Residual(8), d2l.Residual(16, use_1x1conv=True, strides=2),
            nn.GlobalAvgPool2D(), nn.Dense(10))
    return net


NETS = {"lenet": (lenet, 0.9), "residual": (residual, 0.05)}
build, lr = NETS[case]
train_batches, test_batches = batches("train", 7, 48), batches("test", 3, 50)
mx.random.seed(7)

if api == "ch6":
    made = []

    class Recording(where_ch6.Animator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    where_ch6.Animator = Recording
    net = build()
    d2l.train_ch6(net, train_batches, test_batches, 2, lr, d2l.try_gpu())
    print(json.dumps({"X": made[0].X, "Y": made[0].Y}))
else:
    class Model(d2l.Classifier):
        def __init__(self, lr=0.1, num_classes=10):
            super().__init__()
            self.save_hyperparameters()
            self.net = build()
            self.net.initialize(mx.init.Xavier())

    class Data(d2l.DataModule):
        def get_dataloader(self, train):
            return train_batches if train else test_batches

    model = Model(lr=lr)
    model.board.display = False
    d2l.Trainer(max_epochs=2).fit(model, Data())
    print(json.dumps({k: [[float(p.x), float(p.y)] for p in v]
                      for k, v in model.board.data.items()}))
