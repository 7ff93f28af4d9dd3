"""Exercises 6-8: parameter counts against torchvision's published ones and a
hand count, and the pre-activation block against a numpy reference."""
import numpy as np
import pytest
from mxnet import autograd, nd

import d2lnets as d2l
from d2lnets.blocks import Bottleneck, PreActResidual, Residual
from d2lnets.exercises.resnet import PREACT, block_counts, imagenet_counts, small_resnet
from d2lnets.models import resnet

#: torchvision's resnet18 ... resnet152 (an independent implementation of the
#: paper's design): parameters, and GFLOPS (its mult-adds at 224x224)
TORCHVISION = {18: (11_689_512, 1.82), 34: (21_797_672, 3.66), 50: (25_557_032, 4.09),
               101: (44_549_160, 7.80), 152: (60_192_808, 11.51)}


@pytest.mark.parametrize("depth", sorted(TORCHVISION))
def test_imagenet_builds_equal_torchvisions_counts(depth):
    params, macs = imagenet_counts(resnet(depth, 1000, conv_bias=False, shortcut_bn=True))
    assert params == TORCHVISION[depth][0]
    assert abs(macs / 1e9 - TORCHVISION[depth][1]) < 0.01


def _conv(cin, cout, k, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def test_chapter_resnet18_by_hand():
    """The chapter's: conv biases, a 1x1 projection without BN, 1 channel, 10 classes."""
    total = _conv(1, 64, 7) + 2 * 64
    cin = 64
    for c in (64, 128, 256, 512):
        for _ in range(2):
            total += _conv(cin, c, 3) + _conv(c, c, 3) + 4 * c
            if cin != c:
                total += _conv(cin, c, 1)
            cin = c
    total += 512 * 10 + 10
    assert total == 11_178_378 == d2l.summary(d2l.resnet18(), print_fn=None).total_params


def test_bottleneck_against_basic_by_hand():
    basic = 2 * _conv(64, 64, 3, False) + 2 * 2 * 64
    neck = _conv(256, 64, 1, False) + _conv(64, 64, 3, False) + _conv(64, 256, 1, False) + \
        2 * (64 + 64 + 256)
    assert block_counts(Residual(64, conv_bias=False), 64) == (basic, (basic - 256) * 56 * 56)
    assert block_counts(Bottleneck(256, conv_bias=False), 256) == \
        (neck, (neck - 2 * (64 + 64 + 256)) * 56 * 56)


def _np_conv(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return out + b.reshape(1, -1, 1, 1)


def _np_bn_relu(x, gamma, beta, eps=1e-5):
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    g, b = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)
    return np.maximum(g * (x - mean) / np.sqrt(var + eps) + b, 0)


@pytest.mark.parametrize("cin, cout, stride", [(4, 4, 1), (3, 6, 2)])
def test_preact_block_against_numpy(cin, cout, stride):
    """y = conv2(relu(bn2(conv1(a)))) + shortcut, a = relu(bn1(x)); the projection
    takes a, the identity takes x; no ReLU after the sum. BN in training mode."""
    blk = PreActResidual(cout, use_1x1conv=cin != cout, strides=stride)
    blk.initialize()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, cin, 6, 6))
    blk(nd.array(x))
    for p in blk.collect_params().values():  # gamma, beta non-trivial
        if p.grad_req != "null":
            p.set_data(nd.array(rng.normal(size=p.shape)))
    with autograd.record():
        y = blk(nd.array(x)).asnumpy()
    P = {k.split("_", 1)[1]: v.data().asnumpy().astype(np.float64)
         for k, v in blk.collect_params().items()}
    a = _np_bn_relu(x, P["batchnorm0_gamma"], P["batchnorm0_beta"])
    h = _np_conv(a, P["conv0_weight"], P["conv0_bias"], stride, 1)
    h = _np_bn_relu(h, P["batchnorm1_gamma"], P["batchnorm1_beta"])
    h = _np_conv(h, P["conv1_weight"], P["conv1_bias"], 1, 1)
    short = _np_conv(a, P["conv2_weight"], P["conv2_bias"], stride, 0) if cin != cout else x
    np.testing.assert_allclose(y, h + short, rtol=1e-4, atol=1e-4)


def test_resnet18_v2_stem_is_the_conv_alone_and_it_ends_with_bn_relu():
    """The pre-activation blocks normalise their own input, so the stem's BN and
    ReLU would run twice before the first block: the stem is conv and pool."""
    net = d2l.get_model("resnet18-v2")
    kinds = [type(b).__name__ for b in net]
    assert kinds[:2] == ["Conv2D", "MaxPool2D"]
    assert kinds[-4:] == ["BatchNorm", "Activation", "GlobalAvgPool2D", "Dense"]
    assert d2l.summary(net, print_fn=None).output_shape == (1, 10)
    blocks = [b for stage in list(net)[2:6] for b in stage]
    assert len(blocks) == 8 and all(isinstance(b, PreActResidual) for b in blocks)
    bare = [type(b).__name__ for b in d2l.get_model("resnet18-v2", head_norm=False)]
    assert bare[-3:] == ["HybridSequential", "GlobalAvgPool2D", "Dense"]


def test_resnet18_v2_params_by_hand_from_v1():
    """From the chapter's: no stem BN (-2 x 64), a closing BN (+2 x 512), and the
    first block of stages 2-4 normalises its input's channels, not its output's."""
    delta = -2 * 64 + 2 * 512 - 2 * ((128 - 64) + (256 - 128) + (512 - 256))
    v2 = d2l.summary(d2l.get_model("resnet18-v2"), print_fn=None).total_params
    assert v2 == 11_178_378 + delta == d2l.model_info("resnet18-v2").num_params
    bare = d2l.summary(d2l.get_model("resnet18-v2", head_norm=False), print_fn=None)
    assert bare.total_params == v2 - 2 * 512


@pytest.mark.parametrize("depth", [18, 34])
def test_small_resnet_stages_see_14_7_4_2_at_28(depth):
    """Exercises 6 and 8 train where no stage is 1x1 (the 7x7 stem's is)."""
    def sides(net):
        net.initialize()
        X, out = nd.zeros((2, 1, 28, 28)), []
        for layer in net:
            X = layer(X)
            if type(layer).__name__ == "HybridSequential":
                out.append(X.shape[-1])
        return out
    assert sides(small_resnet(depth)()) == [14, 7, 4, 2]
    assert sides(resnet(depth, thumbnail=False)) == [7, 4, 2, 1]
    assert d2l.summary(small_resnet(18)(), (1, 1, 28, 28), print_fn=None).total_params == \
        d2l.model_info("resnet18-small").num_params


def test_exercise_8_variants_differ_in_one_thing_each():
    nets = {name: [type(b).__name__ for b in small_resnet(18, **kw)()]
            for name, kw in PREACT.items()}
    v1, v2, bare = nets.values()
    assert v1[:3] == ["Conv2D", "BatchNorm", "Activation"] and v2[:1] == bare[:1] == ["Conv2D"]
    assert v2[-4:-2] == ["BatchNorm", "Activation"] and v2[:-4] == bare[:-2]
