"""Label smoothing against a numpy computation and the book's loss."""
import numpy as np
import pytest
from mxnet import gluon, nd

from d2lnets.errors import UsageError
from d2lnets.losses import LabelSmoothingLoss, classification_loss


def test_label_smoothing_equals_cross_entropy_with_a_smoothed_target():
    rng = np.random.default_rng(0)
    logits, labels, eps = rng.normal(size=(6, 10)) * 3, rng.integers(0, 10, 6), 0.1
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    target = np.full((6, 10), eps / 10)
    target[np.arange(6), labels] += 1 - eps
    expected = -(target * logp).sum(axis=1)
    got = LabelSmoothingLoss(eps)(nd.array(logits), nd.array(labels)).asnumpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_no_smoothing_is_the_books_loss():
    logits, labels = nd.random.normal(shape=(8, 10)), nd.array([1, 2, 3, 4, 5, 6, 7, 8])
    book = gluon.loss.SoftmaxCrossEntropyLoss()(logits, labels).asnumpy()
    np.testing.assert_allclose(LabelSmoothingLoss(0.0)(logits, labels).asnumpy(), book, rtol=1e-5)
    assert isinstance(classification_loss(0.0), gluon.loss.SoftmaxCrossEntropyLoss)
    assert isinstance(classification_loss(0.2), LabelSmoothingLoss)


def test_bad_smoothing_is_refused():
    with pytest.raises(UsageError, match=r"label smoothing must be in \[0, 1\)"):
        LabelSmoothingLoss(1.0)
