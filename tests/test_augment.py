"""Batch augmentation on the device against a numpy reference (zero-padded crop, mirror)."""
import numpy as np
import pytest
from mxnet import nd

import d2lnets as d2l
from d2lnets.augment import Augment


def numpy_reference(images, theta):
    """Each image shifted by (dy, dx) whole pixels with zeros coming in (a crop
    of the zero-padded image), then mirrored where the map says so."""
    n, _, h, w = images.shape
    out = np.zeros_like(images)
    pad = 64
    for i in range(n):
        dx = int(round(theta[i, 2] * (w - 1) / 2))
        dy = int(round(theta[i, 5] * (h - 1) / 2))
        crop = np.pad(images[i, 0], pad)[pad + dy: pad + dy + h, pad + dx: pad + dx + w]
        out[i, 0] = crop[:, ::-1] if theta[i, 0] < 0 else crop
    return out


@pytest.mark.parametrize("shift,flip,side", [(2, True, 28), (4, False, 28), (0, True, 9), (3, True, 96)])
def test_shift_and_flip_equal_a_padded_crop(shift, flip, side):
    rng_images = np.random.default_rng(0)
    images = rng_images.random((16, 1, side, side)).astype(np.float32)
    aug = Augment(shift, flip)
    theta = aug.maps(16, side, np.random.default_rng(5))
    got = aug(nd.array(images), np.random.default_rng(5)).asnumpy()
    np.testing.assert_allclose(got, numpy_reference(images, theta), atol=1e-4)  # float32 coordinates: exact pixels to 1e-5
    dx = np.round(theta[:, 2] * (side - 1) / 2)
    assert np.abs(dx).max() <= shift and (shift == 0 or len(set(dx)) > 1)  # each image its own way
    assert flip == bool((theta[:, 0] < 0).any())


def test_no_augment_is_the_batch_itself():
    X = nd.random.uniform(shape=(4, 1, 28, 28))
    assert Augment() is not None and not Augment()
    assert Augment()(X, np.random.default_rng(0)) is X


def test_bad_shift_is_a_usage_error():
    with pytest.raises(d2l.UsageError, match="shift must be"):
        Augment(-1)


def test_training_batches_are_augmented_by_seed_epoch_and_batch():
    plain, test_plain = d2l.load_data_fashion_mnist(50, root="sample", seed=1)
    aug, test_aug = d2l.load_data_fashion_mnist(50, root="sample", seed=1, augment=Augment(2, True))
    (Xp, yp), (Xa, ya) = next(plain.epoch(0, 3)), next(aug.epoch(0, 3))
    np.testing.assert_array_equal(yp.asnumpy(), ya.asnumpy())
    theta = Augment(2, True).maps(50, 28, np.random.default_rng([1, 0, 3]))
    np.testing.assert_allclose(Xa.asnumpy(), numpy_reference(Xp.asnumpy(), theta), atol=1e-4)  # float32 coordinates: exact pixels to 1e-5
    again = next(aug.epoch(0, 3))[0]  # a resumed run sees the same batch
    np.testing.assert_array_equal(again.asnumpy(), Xa.asnumpy())
    assert not np.array_equal(next(aug.epoch(1, 3))[0].asnumpy(), Xa.asnumpy())
    # test batches are never augmented
    np.testing.assert_array_equal(next(iter(test_aug))[0].asnumpy(), next(iter(test_plain))[0].asnumpy())
