"""One graph per mode, state updates from inside a graph, and what the loop hybridizes."""
import warnings

import mxnet as mx
import numpy as np
import pytest
from helpers import bn_pair as _pair
from mxnet import autograd, gluon, init, nd
from mxnet.gluon import nn

import d2lnets as d2l
from d2lnets.training.loop import hybridize_safely


def test_hybridized_scratch_bn_keeps_both_modes():
    """One graph per mode: training after prediction (and back) stays correct."""
    ours, ref = _pair(3, 4, 0.9, 1e-5, hybridize=True)
    X = nd.random.normal(2.0, 1.0, shape=(4, 3, 4, 4))
    np.testing.assert_allclose(ours(X).asnumpy(), ref(X).asnumpy(), rtol=1e-5, atol=1e-5)
    with autograd.record():
        y1, y2 = ours(X), ref(X)
        loss = y1.sum() + y2.sum()
    loss.backward()  # Gluon's operator updates its moving statistics in backward
    np.testing.assert_allclose(y1.asnumpy(), y2.asnumpy(), rtol=1e-5, atol=1e-5)
    # batch statistics: each channel of the output has mean beta
    np.testing.assert_allclose(y1.asnumpy().mean(axis=(0, 2, 3)), ours.beta.data().asnumpy(),
                               atol=1e-4)
    np.testing.assert_allclose(ours(X).asnumpy(), ref(X).asnumpy(), rtol=1e-5, atol=1e-5)


def test_foreign_hybridized_container_is_refused_in_training():
    seq = nn.HybridSequential()
    seq.add(nn.Dense(4), d2l.BatchNorm(4, 2))
    seq.initialize()
    seq.hybridize()
    with pytest.raises(RuntimeError, match="d2lnets.HybridSequential"):
        with autograd.record():
            seq(nd.ones((3, 5)))
    ok = d2l.HybridSequential()
    ok.add(nn.Dense(4), d2l.BatchNorm(4, 2))
    ok.initialize()
    ok.hybridize()
    with autograd.record():
        ok(nd.random.uniform(shape=(3, 5)))
    assert np.abs(ok[1].running_mean.data().asnumpy()).max() > 0


# ---- what the training loop hybridizes (hybridize_safely) --------------------------
def _book_conv_block(channels):
    """The DenseNet section's conv_block, as the book writes it: an nn.Sequential."""
    blk = nn.Sequential()
    blk.add(nn.BatchNorm(), nn.Activation("relu"), nn.Conv2D(channels, kernel_size=3, padding=1))
    return blk


def _book_net():
    net = nn.Sequential()
    net.add(nn.Conv2D(8, kernel_size=3, padding=1), _book_conv_block(8), _book_conv_block(8),
            nn.GlobalAvgPool2D(), nn.Dense(10))
    net.initialize(init.Xavier())
    return net


def _sample(n=64):
    return d2l.load_data_fashion_mnist(32, root="sample", subset=n)


def test_hybridizing_the_books_sequential_would_warn():
    """The reference behaviour the loop avoids: Gluon's own hybridize() warns here."""
    with pytest.warns(UserWarning, match="Consider using HybridSequential"):
        _book_net().hybridize()


def test_train_ch5_on_the_books_sequential_prints_no_warning(capsys):
    net = _book_net()
    train_iter, test_iter = _sample()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d2l.train_ch5(net, train_iter, test_iter, 32, trainer, mx.cpu(), 1)
    assert capsys.readouterr().out.count("epoch 1,") == 1
    assert net[0]._active  # the hybrid leaves were hybridized one by one
    assert not getattr(net[1], "_active", False)  # the nn.Sequential itself was not


def test_train_ch5_with_scratch_bn_inside_a_gluon_hybrid_sequential(capsys):
    """d2lzh's train_ch5 trains this net; so must ours (the foreign container stays
    imperative, the from-scratch BatchNorm is hybridized on its own)."""
    net = nn.HybridSequential()
    net.add(nn.Conv2D(6, kernel_size=5), d2l.BatchNorm(6, num_dims=4), nn.Activation("sigmoid"),
            nn.MaxPool2D(pool_size=2, strides=2), nn.Dense(10))
    net.initialize(init.Xavier())
    train_iter, test_iter = _sample()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    d2l.train_ch5(net, train_iter, test_iter, 32, trainer, mx.cpu(), 1)
    assert "epoch 1," in capsys.readouterr().out
    assert not net._active and net[1]._active
    assert np.abs(net[1].running_mean.data().asnumpy()).max() > 0  # its statistics moved


def test_a_d2lnets_network_is_hybridized_whole():
    net = d2l.lenet_bn()
    hybridize_safely(net, static_alloc=True)
    assert net._active and all(getattr(layer, "_active", True) for layer in net)
