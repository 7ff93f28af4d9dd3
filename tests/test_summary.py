"""summary(): the book's shape walk plus parameters and multiply-adds."""
import pytest
from mxnet import nd

import d2lnets as d2l


def test_lenet_multiply_adds_by_hand():
    s = d2l.summary(d2l.lenet_bn(), (1, 1, 28, 28), print_fn=None)
    convs = 6 * 24 * 24 * (1 * 5 * 5) + 16 * 8 * 8 * (6 * 5 * 5)
    dense = 16 * 4 * 4 * 120 + 120 * 84 + 84 * 10
    assert s.total_macs == convs + dense == 281_640
    by_name = {r.name: r for r in s.layers}
    assert by_name["lenetbn_conv0"].macs == 86_400 and by_name["lenetbn_conv0"].params == 156
    assert s.output_shape == (1, 10)


def test_resnet18_summary_prints_book_shapes(capsys):
    s = d2l.summary(d2l.resnet18(), (1, 1, 224, 224))
    out = capsys.readouterr().out
    assert "(1, 512, 7, 7)" in out and "11,178,378" in out
    assert [r.output_shape for r in s.layers][-3:] == [(1, 512, 7, 7), (1, 512, 1, 1), (1, 10)]
    # the batch scales multiply-adds linearly, not parameters
    s4 = d2l.summary(d2l.resnet18(), (4, 1, 224, 224), print_fn=None)
    assert s4.total_macs == 4 * s.total_macs and s4.total_params == s.total_params


def test_summary_leaves_net_uninitialised_and_defaults_shape():
    net = d2l.densenet()
    s = d2l.summary(net, print_fn=None)
    assert s.input_shape == (1, 1, 96, 96)
    assert not any(p._data for p in net.collect_params().values())
    net.initialize()
    assert net(nd.zeros((1, 1, 96, 96))).shape == (1, 10)


def test_summary_of_a_book_style_sequential():
    from mxnet.gluon import nn
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3), nn.Flatten(), nn.Dense(2))
    s = d2l.summary(net, (2, 1, 5, 5), print_fn=None)
    assert [r.output_shape for r in s.layers] == [(2, 4, 3, 3), (2, 36), (2, 2)]
    assert s.total_params == 4 * 9 + 4 + 36 * 2 + 2


@pytest.mark.parametrize("shape", [(1, 1, -3, 28), (1, 1, 28), (1, 1, 28.0, 28)])
def test_a_shape_that_is_no_image_batch_is_refused_in_our_words(shape):
    with pytest.raises(d2l.UsageError, match="summary needs a shape of 4 positive whole numbers"):
        d2l.summary(d2l.lenet_bn(), shape, print_fn=None)


def test_too_small_an_image_is_said_without_mxnets_printout(capsys):
    with pytest.raises(d2l.UsageError, match=r"cannot take input of shape \(1, 1, 3, 3\): the image is too small"):
        d2l.summary(d2l.lenet_bn(), (1, 1, 3, 3), print_fn=None)
    assert "infer_shape error" not in capsys.readouterr().out
