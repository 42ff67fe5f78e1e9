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


def _cifar_records(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    pixels = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    return labels, pixels


def write_cifar10(root, n_per_batch=8, fmt="bin"):
    """A fake CIFAR-10 (five training batches of random images) in the binary or Python version."""
    import pickle
    folder = root / f"cifar-10-batches-{fmt}"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        labels, pixels = _cifar_records(n_per_batch, i)
        if fmt == "bin":
            (folder / f"data_batch_{i}.bin").write_bytes(np.concatenate([labels[:, None], pixels], 1).tobytes())
        else:
            with open(folder / f"data_batch_{i}", "wb") as f:
                pickle.dump({b"data": pixels, b"labels": labels.tolist()}, f)
    return root


def test_cifar10_binary_and_python_versions_give_the_same_split(tmp_path):
    from grader.data import load_cifar10
    a = load_cifar10(train_size=30, val_size=10, seed=1, data_root=write_cifar10(tmp_path / "a", fmt="bin"))
    b = load_cifar10(train_size=30, val_size=10, seed=1, data_root=write_cifar10(tmp_path / "b", fmt="py"))
    assert a.train_images.shape == (30, 3, 32, 32) and a.train_images.dtype == np.uint8
    assert np.array_equal(a.train_images, b.train_images) and np.array_equal(a.val_labels, b.val_labels)
    labels, pixels = _cifar_records(8, 1)       # the first record of data_batch_1, channel-first
    whole = load_cifar10(train_size=40, val_size=0, seed=1, data_root=tmp_path / "a")
    first = next(i for i in range(40) if np.array_equal(whole.train_images[i].ravel(), pixels[0]))
    assert whole.train_labels[first] == labels[0]


def test_a_cifar10_pickle_that_refers_to_code_is_refused(tmp_path):
    import pickle

    from grader.data import load_cifar10

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    folder = write_cifar10(tmp_path, fmt="py") / "cifar-10-batches-py"
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f)
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        load_cifar10(train_size=1, val_size=1, seed=0, data_root=tmp_path)


def test_missing_cifar10_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch):
    from grader.data import find_cifar10
    monkeypatch.delenv("GRADER_DATA_ROOT", raising=False)
    with pytest.raises(DataNotFound) as e:
        find_cifar10(tmp_path)
    assert str(tmp_path / "cifar-10-batches-py") in str(e.value) and "--data-root" in str(e.value)
