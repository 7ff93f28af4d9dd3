"""The chapter's networks and the deeper family: shapes, parameter counts against
the book's code and MXNet's model zoo, and every registered model end to end."""
import numpy as np
import pytest
from mxnet import autograd, init, nd
from mxnet.gluon import nn
from mxnet.gluon.model_zoo import vision

import d2lnets as d2l


def trainable(net, shape):
    return d2l.summary(net, shape, print_fn=None).total_params


# ---- counts of the book's own code (1-channel input, 10 classes) ---------------
@pytest.mark.parametrize("build, shape, count", [
    (lambda: d2l.resnet18(), (1, 1, 224, 224), 11_178_378),
    (lambda: d2l.resnet18(thumbnail=True), (1, 1, 28, 28), 11_175_818),
    (lambda: d2l.densenet(), (1, 1, 96, 96), 758_226),
    (lambda: d2l.lenet_bn(), (1, 1, 28, 28), 44_878),
    (lambda: d2l.lenet_bn(scratch=True), (1, 1, 28, 28), 44_878),
], ids=["resnet18", "resnet18-thumbnail", "densenet", "lenet-bn", "lenet-bn-scratch"])
def test_book_parameter_counts(build, shape, count):
    net = build()
    assert trainable(net, shape) == count
    net.initialize()
    net(nd.zeros(shape))  # the counts agree with the initialised Parameters
    real = sum(p.data().size for p in net.collect_params().values() if p.grad_req != "null")
    assert real == count


def _zoo_count(name):
    net = vision.get_model(name)
    net.initialize()
    net(nd.zeros((1, 3, 224, 224)))
    return sum(p.data().size for p in net.collect_params().values() if p.grad_req != "null")


@pytest.mark.parametrize("ours, zoo, kwargs", [
    ("densenet121", "densenet121", {}),
    ("densenet169", "densenet169", {}),
    ("resnet18", "resnet18_v1", {"conv_bias": False, "shortcut_bn": True}),
    ("resnet34", "resnet34_v1", {}),
])
def test_counts_equal_model_zoo(ours, zoo, kwargs):
    net = d2l.get_model(ours, num_classes=1000, **kwargs)
    assert trainable(net, (1, 3, 224, 224)) == _zoo_count(zoo)


@pytest.mark.parametrize("depth", [50, 101])
def test_bottleneck_counts_against_model_zoo(depth):
    """Gluon's BottleneckV1 gives its two 1x1 convs a bias (the paper and ours do not):
    the zoo has exactly sum(c/4 + c) more parameters, c each block's output channels."""
    _, counts, channels = d2l.models.RESNET_SPECS[depth]
    extra = sum(n * (c // 4 + c) for n, c in zip(counts, channels))
    ours = trainable(d2l.get_model(f"resnet{depth}", num_classes=1000), (1, 3, 224, 224))
    assert ours + extra == _zoo_count(f"resnet{depth}_v1")


def test_resnet50_matches_paper_count():
    # 25,557,032: ResNet-50 of He et al. (as in torchvision), no conv biases
    assert trainable(d2l.resnet50(num_classes=1000), (1, 3, 224, 224)) == 25_557_032


# ---- the book's shape walks -----------------------------------------------------
def test_resnet18_shape_walk():
    net = d2l.resnet18()
    net.initialize()
    X = nd.random.uniform(shape=(1, 1, 224, 224))
    shapes = []
    for layer in net:
        X = layer(X)
        shapes.append(X.shape)
    assert shapes[-3] == (1, 512, 7, 7)  # last residual stage, before global pooling
    assert shapes[-1] == (1, 10)
    assert shapes[:4] == [(1, 64, 112, 112)] * 3 + [(1, 64, 56, 56)]


def test_densenet_shape_walk():
    s = d2l.summary(d2l.densenet(), (1, 1, 96, 96), print_fn=None)
    shapes = [r.output_shape for r in s.layers]
    # dense blocks add 4 * 32 = 128 channels, transitions halve channels and size
    assert shapes[4] == (1, 192, 24, 24) and shapes[5] == (1, 96, 12, 12)
    assert shapes[-1] == (1, 10)


def test_lenet_bn_layers():
    net = d2l.lenet_bn(scratch=True)
    kinds = [type(layer).__name__ for layer in net]
    assert kinds.count("BatchNorm") == 4 and kinds[-1] == "Dense"
    assert [layer.num_dims for layer in net if isinstance(layer, d2l.BatchNorm)] == [4, 4, 2, 2]
    assert all(isinstance(layer, nn.BatchNorm) for layer in d2l.lenet_bn() if "batchnorm" in layer.name)


# ---- the registry ----------------------------------------------------------------
def test_registry_names():
    names = d2l.list_models()
    for name in ["lenet-bn", "lenet-bn-scratch", "resnet18", "resnet34", "resnet50", "resnet101",
                 "resnet152", "densenet", "densenet121", "densenet169", "densenet201"]:
        assert name in names
    assert isinstance(d2l.get_model("lenet-bn"), d2l.Network)


def test_unknown_model_suggests_close_names():
    with pytest.raises(KeyError, match="resnet18"):
        d2l.get_model("resnet19")


def small_shape(name):
    """The smallest input the registry says a test may feed the model."""
    side = d2l.model_info(name).test_side
    return (2, 1, side, side)


@pytest.mark.parametrize("name", d2l.list_models())
def test_registry_metadata_is_true(name):
    """The registry's parameter count equals both the symbolic count and the
    initialised Parameters; its input shape is what the book trains on."""
    info = d2l.model_info(name)
    assert trainable(info.builder(), small_shape(name)[:1] + info.input_shape) == info.num_params
    net = info.builder()
    net.initialize()
    net(nd.zeros(small_shape(name)))
    real = sum(p.data().size for p in net.collect_params().values() if p.grad_req != "null")
    assert real == info.num_params
    assert info.input_shape == info.builder().input_shape  # what the network says it takes
    book = {"lenet_bn": 28, "lenet_bn_scratch": 28, "resnet18": 96, "densenet": 96}
    if name in book:
        assert info.input_shape == (1, book[name], book[name])
    assert info.lr > 0 and info.doc


def test_a_duplicate_name_is_refused():
    before = d2l.model_info("resnet18")
    with pytest.raises(ValueError, match="registered already"):
        d2l.models.register_model(lr=0.1, num_params=1, name="ResNet18 ")(lambda: None)
    assert d2l.model_info("resnet18") is before


def test_names_normalise_one_way():
    assert d2l.model_info("LeNet-BN") is d2l.model_info("lenet_bn")
    assert d2l.model_info("lenet_bn").name == "lenet-bn"


@pytest.mark.parametrize("name", d2l.list_models())
def test_every_model_forward_backward_and_hybridize(name):
    shape = small_shape(name)
    net = d2l.get_model(name, num_classes=7)
    net.initialize(init.Xavier())
    X = nd.random.uniform(shape=shape)
    with autograd.record():
        y = net(X)
        loss = (y ** 2).sum()
    loss.backward()
    assert y.shape == (2, 7)
    grads = [p.grad() for p in net.collect_params().values() if p.grad_req != "null"]
    assert all(np.isfinite(g.asnumpy()).all() for g in grads)
    assert sum(float(nd.abs(g).sum().asscalar()) > 0 for g in grads) > len(grads) // 2
    ref_pred = net(X).asnumpy()
    walk = X  # the book's walk over top-level layers gives the same output
    for layer in net:
        walk = layer(walk)
    np.testing.assert_allclose(walk.asnumpy(), ref_pred, rtol=1e-5, atol=1e-6)

    net.hybridize(static_alloc=True, static_shape=True)
    np.testing.assert_allclose(net(X).asnumpy(), ref_pred, rtol=1e-4, atol=1e-5)
    with autograd.record():  # training-mode output does not depend on the moving statistics
        hy_train = net(X).asnumpy()
    net.hybridize(active=False)
    with autograd.record():
        ref_train = net(X).asnumpy()
    np.testing.assert_allclose(hy_train, ref_train, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", d2l.list_models())
def test_every_model_rejects_wrong_input_clearly(name):
    shape = small_shape(name)
    net = d2l.get_model(name)
    net.initialize()
    net(nd.zeros(shape))
    with pytest.raises(ValueError, match="expects 4-D input"):
        net(nd.zeros(shape[1:]))
    with pytest.raises(ValueError, match=r"built for 1-channel input .*\(batch, 1, height, width\)"):
        net(nd.zeros((2, 3) + shape[2:]))
    with pytest.raises(ValueError, match="expects 4-D input"):
        net(nd.zeros(shape + (1,)))


def test_lenet_wrong_size_names_expected_shape():
    net = d2l.lenet_bn()
    net.initialize()
    net(nd.zeros((2, 1, 28, 28)))
    with pytest.raises(ValueError, match=r"expects \(batch, 1, height, width\), e.g. \(256, 1, 28, 28\)"):
        net(nd.zeros((2, 1, 32, 32)))


def test_batch_of_one_in_training_is_explained():
    net = d2l.lenet_bn()
    net.initialize()
    with pytest.raises(ValueError, match="batch size 1 in training mode"):
        with autograd.record():
            net(nd.zeros((1, 1, 28, 28)))
    assert net(nd.zeros((1, 1, 28, 28))).shape == (1, 10)  # prediction is fine


def test_last_gamma_zero_makes_blocks_identity_like():
    net = d2l.resnet18(last_gamma=True)
    net.initialize()
    net(nd.zeros((1, 1, 32, 32)))
    blk = net[4][1]
    np.testing.assert_array_equal(blk.bn2.gamma.data().asnumpy(), 0)
    X = nd.relu(nd.random.normal(shape=(1, 64, 8, 8)))
    np.testing.assert_allclose(blk(X).asnumpy(), X.asnumpy(), rtol=1e-6)  # relu(0 + X) = X


def test_norm_layer_injection_uses_scratch_bn():
    net = d2l.resnet18(norm_layer=d2l.BatchNorm)
    assert sum(isinstance(b, d2l.BatchNorm) for b in _walk(net)) == 1 + 4 * 2 * 2
    net.initialize()
    assert net(nd.zeros((2, 1, 32, 32))).shape == (2, 10)


def _walk(block):
    yield block
    for child in block._children.values():
        yield from _walk(child)


def test_a_size_the_layers_cannot_take_on_the_first_call():
    """Found by the command-line fuzz test (--resize 1): the first call of an
    uninitialised-shape net fails inside Gluon's deferred initialisation."""
    net = d2l.lenet_bn()
    net.initialize()
    net.hybridize()
    with pytest.raises(ValueError, match=r"cannot take input of shape \(4, 1, 1, 1\): it expects"):
        net(nd.zeros((4, 1, 1, 1)))
