"""The chapter's blocks: the book's printed shapes, batch_norm against numpy and
nn.BatchNorm, and the moving statistics through save/load and hybridization."""
import numpy as np
import pytest
from helpers import bn_pair as _pair
from hypothesis import given, settings
from hypothesis import strategies as st
from mxnet import autograd, nd

import d2lnets as d2l


def _init(blk, X):
    blk.initialize()
    return blk(X)


# ---- the book's printed shapes ------------------------------------------------
def test_residual_same_shape():
    assert _init(d2l.Residual(3), nd.random.uniform(shape=(4, 3, 6, 6))).shape == (4, 3, 6, 6)


def test_residual_1x1_halves():
    blk = d2l.Residual(6, use_1x1conv=True, strides=2)
    assert _init(blk, nd.random.uniform(shape=(4, 3, 6, 6))).shape == (4, 6, 3, 3)


def test_dense_block_and_transition():
    Y = _init(d2l.DenseBlock(2, 10), nd.random.uniform(shape=(4, 3, 8, 8)))
    assert Y.shape == (4, 23, 8, 8)
    assert _init(d2l.transition_block(10), Y).shape == (4, 10, 4, 4)
    assert d2l.transition_block is d2l.Transition


def test_conv_block_layers():
    blk = d2l.conv_block(7)
    kinds = [type(layer).__name__ for layer in blk]
    assert kinds == ["BatchNorm", "Activation", "Conv2D"]
    assert _init(blk, nd.random.uniform(shape=(2, 3, 5, 5))).shape == (2, 7, 5, 5)


def test_residual_matches_hand_computation():
    """Residual(..., use_1x1conv) = relu(bn2(conv2(relu(bn1(conv1 X)))) + conv3 X)."""
    blk = d2l.Residual(4, use_1x1conv=True)
    X = nd.random.normal(shape=(2, 3, 5, 5))
    blk.initialize()
    Y = blk(X)
    ref = nd.relu(blk.bn2(blk.conv2(nd.relu(blk.bn1(blk.conv1(X))))) + blk.conv3(X))
    np.testing.assert_allclose(Y.asnumpy(), ref.asnumpy(), rtol=1e-6, atol=1e-6)


def test_dense_block_concatenates_inputs():
    blk = d2l.DenseBlock(2, 4)
    X = nd.random.normal(shape=(1, 3, 4, 4))
    Y = _init(blk, X)
    np.testing.assert_array_equal(Y[:, :3].asnumpy(), X.asnumpy())  # input passes through
    Y1 = blk.net[0](X)
    np.testing.assert_allclose(Y[:, 3:7].asnumpy(), Y1.asnumpy(), rtol=1e-6)


# ---- batch_norm, the function --------------------------------------------------
def _numpy_bn(X, gamma, beta, eps):
    axes = (0,) if X.ndim == 2 else (0, 2, 3)
    mean = X.mean(axis=axes, keepdims=True)
    var = ((X - mean) ** 2).mean(axis=axes, keepdims=True)
    return gamma * (X - mean) / np.sqrt(var + eps) + beta, mean, var


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 6, 7)])
def test_batch_norm_training_against_numpy(shape):
    C = shape[1]
    bshape = (1, C) if len(shape) == 2 else (1, C, 1, 1)
    X = np.random.normal(1.5, 2.0, size=shape).astype("float32")
    gamma = np.random.uniform(0.5, 2, size=bshape).astype("float32")
    beta = np.random.normal(size=bshape).astype("float32")
    mm, mv = np.zeros(bshape, "float32"), np.ones(bshape, "float32")
    with autograd.record():
        Y, new_mm, new_mv = d2l.batch_norm(nd.array(X), nd.array(gamma), nd.array(beta),
                                           nd.array(mm), nd.array(mv), eps=1e-5, momentum=0.9)
    ref, mean, var = _numpy_bn(X, gamma, beta, 1e-5)
    np.testing.assert_allclose(Y.asnumpy(), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new_mm.asnumpy(), 0.9 * mm + 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_mv.asnumpy(), 0.9 * mv + 0.1 * var, rtol=1e-5, atol=1e-6)
    assert new_mm.shape == bshape


def test_batch_norm_prediction_uses_moving_stats():
    X = np.random.normal(size=(4, 3, 2, 2)).astype("float32")
    mm = np.array([0.5, -1.0, 2.0], "float32")
    mv = np.array([4.0, 0.25, 1.0], "float32")
    gamma, beta = np.ones(3, "float32"), np.zeros(3, "float32")
    Y, out_mm, out_mv = d2l.batch_norm(*(nd.array(a) for a in (X, gamma, beta, mm, mv)),
                                       eps=0.0, momentum=0.9)
    ref = (X - mm.reshape(1, 3, 1, 1)) / np.sqrt(mv.reshape(1, 3, 1, 1))
    np.testing.assert_allclose(Y.asnumpy(), ref, rtol=1e-6)
    np.testing.assert_array_equal(out_mm.asnumpy(), mm)  # not updated in prediction mode
    np.testing.assert_array_equal(out_mv.asnumpy(), mv)


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), (1, 2, 3, 4, 5)])
def test_batch_norm_rejects_other_ranks(shape):
    one = nd.ones((1, shape[1] if len(shape) > 1 else 1))
    with pytest.raises(ValueError, match="2-D input .* 4-D input"):
        d2l.batch_norm(nd.ones(shape), one, one, one, one, 1e-5, 0.9)
    with pytest.raises(ValueError, match="2-D"):
        d2l.BatchNorm(3, num_dims=len(shape))


# ---- BatchNorm, the layer, against Gluon's ------------------------------------
def _compare_layers(shape, momentum, eps, hybridize, steps=3):
    C = shape[1]
    ours, ref = _pair(C, len(shape), momentum, eps, hybridize)
    for _ in range(steps):
        X = nd.random.normal(1.0, 3.0, shape=shape)
        W = nd.random.normal(shape=shape)
        results = []
        for blk in (ours, ref):
            x = X.copy()
            x.attach_grad()
            with autograd.record():
                Y = blk(x)
                loss = (Y * W).sum()
            loss.backward()
            results.append((Y.asnumpy(), x.grad.asnumpy()))
        (y1, g1), (y2, g2) = results
        np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-5)
        # float32 sums over the batch in two different orders: input gradients that
        # cancel to ~1e-6 carry absolute noise of a few 1e-5 (seen on CI: 2.2e-5)
        np.testing.assert_allclose(g1, g2, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(g2).max()))
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours, name).data().asnumpy(),
                                   getattr(ref, name).data().asnumpy(), rtol=1e-5, atol=1e-5)
    X = nd.random.normal(1.0, 3.0, shape=shape)
    np.testing.assert_allclose(ours(X).asnumpy(), ref(X).asnumpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("hybridize", [False, True], ids=["imperative", "hybridized"])
@pytest.mark.parametrize("shape", [(16, 7), (4, 3, 5, 6)], ids=["2d", "4d"])
def test_batchnorm_equals_gluon(shape, hybridize):
    _compare_layers(shape, 0.9, 1e-5, hybridize)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 6), c=st.integers(1, 5), h=st.integers(1, 5), w=st.integers(1, 5),
       four_d=st.booleans(), momentum=st.sampled_from([0.0, 0.5, 0.9, 0.99]),
       eps=st.sampled_from([1e-5, 1e-3]))
def test_batchnorm_equals_gluon_property(n, c, h, w, four_d, momentum, eps):
    shape = (n, c, h, w) if four_d else (n, c)
    _compare_layers(shape, momentum, eps, hybridize=False, steps=2)


def test_batchnorm_moving_var_starts_at_one_and_aliases():
    bn = d2l.BatchNorm(4, 4)
    bn.initialize()
    np.testing.assert_array_equal(bn.moving_var.data().asnumpy(), np.ones(4))
    np.testing.assert_array_equal(bn.moving_mean.data().asnumpy(), np.zeros(4))
    assert bn.moving_mean is bn.running_mean
    assert bn.running_mean.grad_req == "null"


def test_batchnorm_wrong_input_says_expected_shape():
    bn = d2l.BatchNorm(4, 4)
    bn.initialize()
    with pytest.raises(ValueError, match=r"\(batch, 4, height, width\)"):
        bn(nd.ones((2, 3, 5, 5)))


def test_save_load_keeps_moving_stats(tmp_path):
    net = d2l.lenet_bn(scratch=True)
    net.initialize()
    X = nd.random.uniform(shape=(8, 1, 28, 28))
    for _ in range(2):
        with autograd.record():
            net(X)
    stats = {k: v.data().asnumpy() for k, v in net.collect_params(".*running.*").items()}
    assert any(np.abs(v - (k.endswith("var"))).max() > 1e-4 for k, v in stats.items())
    path = str(tmp_path / "lenet.params")
    net.save_parameters(path)
    fresh = d2l.lenet_bn(scratch=True)
    fresh.load_parameters(path)
    for k, v in fresh.collect_params(".*running.*").items():
        np.testing.assert_array_equal(v.data().asnumpy(), stats[k])
    np.testing.assert_allclose(fresh(X).asnumpy(), net(X).asnumpy(), rtol=1e-6)
    # the same file loads into the nn.BatchNorm version and predicts the same
    gluon = d2l.lenet_bn(scratch=False)
    gluon.load_parameters(path)
    np.testing.assert_allclose(gluon(X).asnumpy(), net(X).asnumpy(), rtol=1e-4, atol=1e-5)
