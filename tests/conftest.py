import os
import random

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

# isort: off
import d2lnets  # noqa: E402,F401  (sets the OpenMP threads before mxnet loads)
import mxnet as mx  # noqa: E402
# isort: on


@pytest.fixture(autouse=True)
def _seed():
    mx.random.seed(0)
    np.random.seed(0)
    random.seed(0)
    yield
