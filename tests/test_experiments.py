"""The reference experiments (`python -m reference.experiments`): every one runs in --quick mode through
the command line and writes its CSV, figure and table, and the quick numbers already show what the full
runs in docs/experiments.md show where they can (zero init at ln 10, finite differences, equivariance)."""
from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest

from reference.experiments import EXPERIMENTS
from tests.test_data import write_cifar10

ROOT = Path(__file__).resolve().parents[1]
TORCH_EXPERIMENTS = [n for n, (module, _, _) in EXPERIMENTS.items() if module in ("cnn", "augmentation")]


def experiments(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "reference.experiments", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """`all --quick` once, with a fake CIFAR-10 under the data root so that `augmentation` runs too."""
    pytest.importorskip("torch")
    root = write_cifar10(tmp_path_factory.mktemp("data"), n_per_batch=160)
    out = tmp_path_factory.mktemp("experiments")
    done = experiments("all", "--quick", "--out", out, "--data-root", root, "--device", "cpu")
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_experiment_writes_its_csv_figure_and_table(quick_run, name):
    out, stdout = quick_run
    rows = read_csv(out / f"{name}.csv")
    assert rows, f"{name}.csv has no rows"
    assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / f"{name}.md").read_text()
    assert table.startswith("| ") and "(quick)" in table
    assert f"## {name} " in stdout and table.splitlines()[0] in stdout


def test_zero_init_stays_at_ln_10_and_glorot_learns(quick_run):
    rows = read_csv(quick_run[0] / "init.csv")
    zero = [float(r["train_loss"]) for r in rows if r["init"] == "zero"]
    glorot = [float(r["train_loss"]) for r in rows if r["init"] == "glorot"]
    assert len(zero) == 2 and all(abs(v - math.log(10)) < 1e-3 for v in zero)
    assert glorot[-1] < glorot[0] < math.log(10) + 0.1


def test_finite_differences_agree_best_at_a_middle_epsilon_and_float32_cannot_match_float64(quick_run):
    rows = read_csv(quick_run[0] / "finite-difference.csv")
    curve = {p: {int(r["N"]): float(r["max_abs_difference"]) for r in rows if r["precision"] == p}
             for p in ("float64", "float32")}
    assert set(curve["float64"]) == {k * 10 ** i for i in range(6) for k in (1, 5)}
    best64 = min(curve["float64"], key=curve["float64"].get)
    assert curve["float64"][best64] < 1e-8 and 1 < best64 < 500000
    assert curve["float64"][1] > 1e3 * curve["float64"][best64]       # truncation at eps = 1
    assert min(curve["float32"].values()) > 100 * curve["float64"][best64]    # rounding in float32


def test_a_convolution_commutes_with_shifts_not_with_rotations(quick_run):
    rows = read_csv(quick_run[0] / "equivariance.csv")
    worst = {}
    for r in rows:
        worst[r["transformation"]] = max(worst.get(r["transformation"], 0.0), float(r["max_abs_difference_inside"]))
    assert worst["shift (3, 5)"] < 1e-12 and worst["rotate 90, kernel rotated too"] < 1e-12
    assert worst["rotate 90"] > 1e-2 and worst["shift (3, 5), compared unshifted"] > 1e-2


def test_the_grid_keeps_to_half_a_million_to_a_million_parameters(quick_run):
    out = quick_run[0]
    rows = read_csv(out / "hparam.csv")
    assert rows and all(500_000 <= int(r["parameters"]) <= 1_000_000 for r in rows)
    assert "Left out by the 0.5 M-1 M rule: 400x400 (478,410)" in (out / "hparam.md").read_text()


@pytest.mark.parametrize("name, runs", [
    ("mlp-vs-cnn", {"LeNet-5", "MLP"}),
    ("regularisation", {"none", "batch norm", "dropout 0.2", "weight decay 1e-3"}),
    ("lr-sweep", {"lr 0.01", "lr 1"}),
    ("dropout", {"no dropout", "p 0.2 before pooling", "p 0.2 before conv2", "p 0.2 before fc"}),
    ("normalisation", {"raw 0-255", "scaled 0-1", "standardised"}),
    ("augmentation", {"no augmentation", "crop + flip", "crop + flip + cosine lr"}),
])
def test_training_experiments_record_every_run_and_epoch(quick_run, name, runs):
    rows = read_csv(quick_run[0] / f"{name}.csv")
    label = next(iter(rows[0]))                # the first column names the run
    assert runs <= {r[label] for r in rows}
    for r in rows:
        assert r["epoch"] == "1" and 0.0 <= float(r["val_acc"]) <= 1.0
    assert "CPU" in (quick_run[0] / f"{name}.md").read_text()


def test_the_same_command_gives_the_same_numbers(quick_run, tmp_path):
    again = experiments("mlp-vs-cnn", "--quick", "--out", tmp_path, "--device", "cpu")
    assert again.returncode == 0, again.stderr[-2000:]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds_per_epoch"} for r in rows]
    assert strip(read_csv(tmp_path / "mlp-vs-cnn.csv")) == strip(read_csv(quick_run[0] / "mlp-vs-cnn.csv"))


def test_augmentation_without_cifar10_is_skipped_with_a_message(tmp_path):
    from grader.data import DataNotFound, find_cifar10
    try:
        find_cifar10(None)
        pytest.skip("this machine has CIFAR-10 installed")
    except DataNotFound:
        pass
    done = experiments("augmentation", "--quick", "--out", tmp_path, "--data-root", tmp_path)
    assert done.returncode == 0
    assert "augmentation: skipped: the cifar-10 data set was not found" in done.stderr
    assert "--data-root" in done.stderr and not (tmp_path / "augmentation.csv").exists()


def test_crop_flip_moves_and_mirrors_whole_images_reproducibly():
    torch = pytest.importorskip("torch")
    from reference.experiments.augmentation import PAD, crop_flip
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8) + 1
    a = crop_flip(x, torch.Generator().manual_seed(0))
    b = crop_flip(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    padded = torch.nn.functional.pad(x, (PAD,) * 4)
    for i in range(2):
        windows = [padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(2 * PAD + 1) for dx in range(2 * PAD + 1)]
        assert any(torch.equal(a[i], w) or torch.equal(a[i], w.flip(2)) for w in windows)


def test_asking_for_cuda_without_a_gpu_says_so(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    done = experiments("normalisation", "--quick", "--device", "cuda", "--out", tmp_path)
    assert done.returncode != 0 and "no CUDA device; use --device cpu or auto" in done.stderr
