"""Devices: the book's helpers and --ctx parsing."""
import mxnet as mx
import pytest

import d2lnets as d2l
from d2lnets.devices import parse_ctx


def test_book_helpers_without_gpu():
    assert d2l.try_gpu() == mx.cpu()
    assert d2l.try_all_gpus() == [mx.cpu()]


def test_parse_ctx():
    assert parse_ctx("cpu:0,cpu:1") == [mx.cpu(0), mx.cpu(1)]
    assert parse_ctx("cpu") == [mx.cpu(0)]
    assert parse_ctx("auto") == [d2l.try_gpu()]
    with pytest.raises(ValueError, match="bad context"):
        parse_ctx("cpu:x")
    with pytest.raises(ValueError, match="no GPU"):
        parse_ctx("gpu")
    with pytest.raises(ValueError, match="MXNet sees 0 GPU"):
        parse_ctx("gpu:0")
    with pytest.raises(ValueError, match="names cpu\\(0\\) twice"):
        parse_ctx("cpu:0,cpu:0")
