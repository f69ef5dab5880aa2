"""MNIST (bundled) and MNIST-1D (generated) as the datasets' own documentation says."""

import gzip
import random

import numpy as np
import pytest

from neurodl.data import load_mnist, load_mnist1d
from neurodl.errors import DataFileError, ValidationError

# The class counts of MNIST's training and test sets (the digits 0-9), as published
# with the dataset and reproduced by every loader (e.g. torchvision's).
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize(
    ("split", "counts"), [("train", TRAIN_COUNTS), ("test", TEST_COUNTS)]
)
def test_mnist_splits_hold_the_published_class_counts(split, counts):
    x, y = load_mnist(split)
    assert x.shape == (sum(counts), 28, 28) and x.dtype == np.uint8
    assert y.dtype == np.int64
    assert np.bincount(y, minlength=10).tolist() == counts
    assert x.min() == 0 and x.max() == 255


def test_mnist_first_test_labels_are_the_digits_drawn():
    # the first five test images are the digits 7, 2, 1, 0, 4 (LeCun's page shows them)
    x, y = load_mnist("test")
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    # a "1" is thin: far fewer ink pixels than a "0"
    assert (x[2] > 127).sum() < (x[3] > 127).sum()


def test_mnist_reads_a_users_folder_and_checks_the_files(tmp_path):
    x, y = load_mnist("test")
    images = gzip.compress(
        np.array([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28], ">u1").tobytes()
        + x[:2].tobytes()
    )
    labels = (
        np.array([0, 0, 8, 1, 0, 0, 0, 2], ">u1").tobytes()
        + y[:2].astype(np.uint8).tobytes()
    )
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(images)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(labels)  # uncompressed too
    x2, y2 = load_mnist("test", path=tmp_path)
    np.testing.assert_array_equal(x2, x[:2])
    assert y2.tolist() == y[:2].tolist()
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(labels[:-1])
    with pytest.raises(DataFileError, match="truncated"):
        load_mnist("test", path=tmp_path)
    with pytest.raises(DataFileError, match="train-images"):
        load_mnist("train", path=tmp_path)
    with pytest.raises(ValidationError, match="'split' must be one of"):
        load_mnist("validation")
    with pytest.raises(ValidationError, match="'path' must be a folder"):
        load_mnist("test", path=tmp_path / "nowhere")


def test_mnist1d_is_the_readme_dataset_and_leaves_global_rng_alone():
    from sklearn.linear_model import LogisticRegression

    from neurodl.data.images import _mnist1d

    _mnist1d.cache_clear()  # the generator must run here, not come from the cache
    np.random.seed(7)  # noqa: NPY002
    random.seed(7)
    expect_np, expect_py = np.random.rand(), random.random()  # noqa: NPY002
    np.random.seed(7)  # noqa: NPY002
    random.seed(7)
    x, y, xt, yt = load_mnist1d()
    assert (np.random.rand(), random.random()) == (expect_np, expect_py)  # noqa: NPY002
    assert x.shape == (4000, 40) and xt.shape == (1000, 40)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y, minlength=10).min() > 350  # balanced classes
    # the MNIST-1D README's logistic-regression baseline: 32 % test accuracy
    score = LogisticRegression(max_iter=2000).fit(x, y).score(xt, yt)
    assert abs(score - 0.32) < 0.03, score
    x2 = load_mnist1d()[0]
    x2[0, 0] = 1e9  # copies: the cache stays intact
    np.testing.assert_array_equal(load_mnist1d()[0], x)
    with pytest.raises(ValidationError, match="'num_samples'"):
        load_mnist1d(num_samples=3)
