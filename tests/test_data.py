"""Fashion-MNIST loading: deterministic splits, a clear error when the files are missing."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from grader.data import DataNotFound, find_dataset, load_split, read_idx


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_root(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.zeros((20, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = np.arange(20)          # each image's id
    _write_idx(raw / "train-images-idx3-ubyte.gz", images)
    _write_idx(raw / "train-labels-idx1-ubyte.gz", np.arange(20) % 10)
    return tmp_path


def test_torchvision_layout_under_a_data_root(tiny_root):
    assert find_dataset("fashion-mnist", tiny_root) == tiny_root / "FashionMNIST" / "raw"
    images = read_idx(tiny_root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz")
    assert images.shape == (20, 28, 28) and images.dtype == np.uint8


def test_split_is_deterministic_and_disjoint(tiny_root):
    a = load_split("fashion-mnist", train_size=15, val_size=5, seed=3, data_root=tiny_root)
    b = load_split("fashion-mnist", train_size=15, val_size=5, seed=3, data_root=tiny_root)
    assert np.array_equal(a.train_labels, b.train_labels) and np.array_equal(a.val_images, b.val_images)
    ids = {int(img[0, 0]) for img in np.concatenate([a.train_images, a.val_images])}
    assert ids == set(range(20))


def test_missing_data_names_the_paths_tried_and_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr("grader.data.candidate_dirs", lambda name, root=None: [tmp_path / "nowhere"])
    with pytest.raises(DataNotFound) as info:
        find_dataset("fashion-mnist")
    assert "nowhere" in str(info.value) and "apt-get install -y dataset-fashion-mnist" in str(info.value)


def test_the_real_fashion_mnist_split_when_installed():
    try:
        split = load_split("fashion-mnist", train_size=55000, val_size=5000, seed=0)
    except DataNotFound:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    assert split.train_images.shape == (55000, 28, 28) and split.val_labels.shape == (5000,)
    assert set(np.unique(split.val_labels)) == set(range(10))
