"""The chapter's networks in PyTorch (eager), for the speed comparison in bench/bench.py.

Same layers as the book's Gluon code (conv biases included, the 1x1 projection without BN).
    python bench/torch_chapter.py step MODEL BATCH SIZE STEPS   -> one JSON line
"""
import json
import sys
import time

import torch
from torch import nn


def lenet_bn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10))


class Residual(nn.Module):
    def __init__(self, c_in: int, c_out: int, use_1x1conv: bool = False, strides: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.conv3 = nn.Conv2d(c_in, c_out, 1, stride=strides) if use_1x1conv else None
        self.bn1, self.bn2 = nn.BatchNorm2d(c_out), nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.conv3 is not None:
            x = self.conv3(x)
        return torch.relu(y + x)


def resnet18() -> nn.Module:
    layers = [nn.Conv2d(1, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    c_in = 64
    for i, c in enumerate((64, 128, 256, 512)):
        first = i == 0
        layers += [Residual(c_in, c, use_1x1conv=not first, strides=1 if first else 2),
                   Residual(c, c)]
        c_in = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


class DenseBlock(nn.Module):
    def __init__(self, num_convs: int, c_in: int, growth: int):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.BatchNorm2d(c_in + i * growth), nn.ReLU(),
                          nn.Conv2d(c_in + i * growth, growth, 3, padding=1))
            for i in range(num_convs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = torch.cat((x, blk(x)), dim=1)
        return x


def densenet() -> nn.Module:
    layers = [nn.Conv2d(1, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    c, growth, convs = 64, 32, (4, 4, 4, 4)
    for i, n in enumerate(convs):
        layers.append(DenseBlock(n, c, growth))
        c += n * growth
        if i != len(convs) - 1:
            layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1), nn.AvgPool2d(2, 2)]
            c //= 2
    layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
    return nn.Sequential(*layers)


MODELS = {"lenet_bn": lenet_bn, "resnet18": resnet18, "densenet": densenet}


def step(model: str, batch: int, size: int, steps: int) -> dict:
    net = MODELS[model]()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    loss = nn.CrossEntropyLoss()
    X = torch.rand(batch, 1, size, size)
    y = torch.randint(0, 10, (batch,))

    def one() -> None:
        opt.zero_grad(set_to_none=True)
        out = loss(net(X), y)
        out.backward()
        opt.step()

    for _ in range(2):
        one()
    start = time.perf_counter()
    for _ in range(steps):
        one()
    return {"images_per_s": steps * batch / (time.perf_counter() - start),
            "torch": torch.__version__, "threads": torch.get_num_threads()}


if __name__ == "__main__":
    what, model, batch, size, steps = sys.argv[1:6]
    assert what == "step", what
    print(json.dumps(step(model, int(batch), int(size), int(steps))))
