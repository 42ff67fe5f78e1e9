"""PyTorch training code: the optimizer, one epoch, evaluation, normalisation statistics, and the
accuracy gates. The grader computes every accuracy from the student model's logits on its own
held-out data, whose labels never enter the worker.
"""
from __future__ import annotations

import numpy as np

from .. import data as data_mod
from ..compare import describe_type, mismatch
from .base import CheckFailed, Param, Passed, check
from .torchlib import (cross_entropy_from_logits, generator, new_model, pick_device, state, stored_tensor,
                       tensor, values_of, watch)
from .training import check_history


def _loader(ctx, images: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool, device: str = "cpu",
            scale: float | None = None):
    x = stored_tensor(ctx.student, images, dtype="float32", scale=scale, device=device)
    y = stored_tensor(ctx.student, labels, dtype="int64", device=device)
    return ctx.student.op("loader", x=x, y=y, batch_size=batch_size, shuffle=shuffle, seed=ctx.seed)


def _random_batch(seed: int, n: int, shape, classes: int = 10):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)).astype(np.float32), rng.integers(0, classes, n)


def _pair_of_numbers(value, what: str) -> tuple[float, float]:
    if not isinstance(value, tuple) or len(value) != 2:
        raise CheckFailed(f"{what} should return a pair (mean loss, accuracy), but it returned {describe_type(value)}")
    out = []
    for v, name in zip(value, ("the mean loss", "the accuracy")):
        array = values_of(v, f"{what}'s {name}", allow_number=True)
        if array.size != 1 or not np.isfinite(array).all():
            raise CheckFailed(f"{what}'s {name} should be one finite number, got {describe_type(v)}")
        out.append(float(array.reshape(())))
    return out[0], out[1]


def _changed(before: dict, after: dict, prefix: str) -> list[str]:
    return [k.split(":", 1)[1] for k in before if k.startswith(prefix) and not np.array_equal(before[k], after.get(k))]


@check("make_optimizer", cls=Param(str, "probe"),
       settings=Param(list, [{"lr": 0.05, "momentum": 0.9, "weight_decay": 0.0005}, {"lr": 0.2}]))
def make_optimizer(ctx):
    """make_optimizer(model, lr, momentum, weight_decay) is torch.optim.SGD over every parameter of the
    model, with the learning rate, momentum and weight decay it was given (defaults 0)."""
    for settings in ctx.params["settings"]:
        model = new_model(ctx, ctx.params["cls"], {"batchnorm": True})
        call = f"make_optimizer(model, {', '.join(f'{k}={v}' for k, v in settings.items())})"
        opt = ctx.student.module.call("make_optimizer", model, **settings)
        about = ctx.student.op("optimizer_info", target=opt, model=model)
        if about["type"] != "SGD":
            raise CheckFailed(f"{call} returned a {about['type']}; the assignment asks for torch.optim.SGD")
        if about["missing"]:
            raise CheckFailed(f"{call} leaves {about['missing']} of the model's {about['n_model_params']} parameter "
                              "tensors out of the optimizer: pass model.parameters()")
        expected = {"lr": settings["lr"], "momentum": settings.get("momentum", 0.0),
                    "weight_decay": settings.get("weight_decay", 0.0)}
        for group in about["groups"]:
            for key, value in expected.items():
                if abs(float(group.get(key, -1)) - value) > 1e-12:
                    raise CheckFailed(f"{call} made an SGD with {key}={group.get(key)!r}, expected {value}: pass "
                                      f"{key} through to torch.optim.SGD")
    return Passed("SGD over every parameter, with lr, momentum and weight decay passed through")


@check("evaluate_is_pure", cls=Param(str, "probe"), kwargs=Param(dict, {"batchnorm": True, "dropout": 0.3}),
       n=Param(int, 96), batch_size=Param(int, 32), input=Param(list, [1, 28, 28]))
def evaluate_is_pure(ctx):
    """evaluate(model, loader, device) from train mode: every forward in eval mode without gradient tracking,
    no autograd run, parameters and running statistics unchanged, and the mean loss and accuracy right."""
    p = ctx.params
    model = new_model(ctx, p["cls"], p["kwargs"])
    model.call("train", True)
    images, labels = _random_batch(ctx.seed, p["n"], p["input"])
    loader = _loader(ctx, images, labels, p["batch_size"], shuffle=False)
    before = state(ctx.student, model)
    seen = watch(ctx.student, None, "evaluate", model, loader, "cpu", model=model)
    after = state(ctx.student, model)
    name = "evaluate(model, loader, 'cpu')"
    if not seen["forwards"]:
        raise CheckFailed(f"{name} never called the model")
    if any(f["training"] for f in seen["forwards"]):
        raise CheckFailed(f"{name} ran the model in train mode (dropout on, batch statistics): call model.eval() "
                          "before evaluating")
    if any(f["grad_enabled"] for f in seen["forwards"]) or seen["autograd_runs"]:
        raise CheckFailed(f"{name} tracked gradients (it builds an autograd graph"
                          f"{' and ran backward' if seen['autograd_runs'] else ''}): wrap it in torch.no_grad()")
    changed_params, changed_buffers = _changed(before, after, "param:"), _changed(before, after, "buffer:")
    if changed_params:
        raise CheckFailed(f"{name} changed the parameters {', '.join(changed_params[:4])}: evaluation must not "
                          "train (no optimizer step)")
    if changed_buffers:
        raise CheckFailed(f"{name} changed the buffers {', '.join(changed_buffers[:4])} (batch norm's running "
                          "statistics): evaluate in eval mode")
    loss, acc = _pair_of_numbers(seen["value"], name)
    logits = ctx.student.op("logits", target=model, x=stored_tensor(ctx.student, images), batch_size=p["batch_size"])
    true_loss = cross_entropy_from_logits(logits, labels)
    true_acc = float(np.mean(logits.argmax(1) == labels))
    problem = mismatch(f"{name}'s mean loss", np.asarray(loss), np.asarray(true_loss), rtol=1e-4, atol=1e-5,
                       batch=p["batch_size"])
    if problem:
        raise CheckFailed(problem + f"\n  The mean loss is the cross-entropy averaged over all {p['n']} examples.")
    if abs(acc - true_acc) > 1e-6:
        raise CheckFailed(f"{name}'s accuracy is {acc:.6g}, expected {true_acc:.6g} (a fraction in [0, 1] over "
                          f"all {p['n']} examples)")
    return Passed("evaluate runs in eval mode under no_grad, changes nothing, and returns the right loss and accuracy")


@check("train_epoch_updates", cls=Param(str, "probe"), kwargs=Param(dict, {}),
       n=Param(int, 96), batch_size=Param(int, 32), lr=Param(float, 0.05), input=Param(list, [1, 28, 28]))
def train_epoch_updates(ctx):
    """train_epoch(model, loader, optimizer, device) from eval mode: forwards in train mode with gradients,
    one backward per batch, every parameter and running statistic updated; (mean loss, accuracy) returned."""
    p = ctx.params
    model = new_model(ctx, p["cls"], p["kwargs"])
    model.call("eval")
    images, labels = _random_batch(ctx.seed, p["n"], p["input"])
    loader = _loader(ctx, images, labels, p["batch_size"], shuffle=True)
    optimizer = ctx.student.module.call("make_optimizer", model, p["lr"])
    before = state(ctx.student, model)
    seen = watch(ctx.student, None, "train_epoch", model, loader, optimizer, "cpu", model=model)
    after = state(ctx.student, model)
    name = "train_epoch(model, loader, optimizer, 'cpu')"
    n_batches = -(-p["n"] // p["batch_size"])
    if not seen["forwards"] or any(not f["training"] for f in seen["forwards"]):
        raise CheckFailed(f"{name} must run the model in train mode: call model.train() first (the grader passed "
                          "a model in eval mode)")
    if seen["autograd_runs"] < n_batches:
        raise CheckFailed(f"{name} ran backward {seen['autograd_runs']} time(s) for {n_batches} batches: one "
                          "loss.backward() and optimizer.step() per batch")
    if seen.get("stale_gradient_runs"):
        raise CheckFailed(f"{name}: gradients accumulate across batches: {seen['stale_gradient_runs']} of "
                          f"{seen['autograd_runs']} loss.backward() calls began with the previous batches' gradients "
                          "still in the parameters' .grad, so each step follows their sum. Call optimizer.zero_grad() "
                          "before each loss.backward()")
    unchanged = [k.split(":", 1)[1] for k in before if k.startswith("param:") and np.array_equal(before[k], after[k])]
    if unchanged:
        raise CheckFailed(f"{name} left parameters unchanged: {', '.join(unchanged[:4])}. Call optimizer.step() "
                          "after loss.backward()")
    loss, acc = _pair_of_numbers(seen["value"], name)
    if not (loss > 0 and 0 <= acc <= 1):
        raise CheckFailed(f"{name} returned loss {loss:.4g} and accuracy {acc:.4g}; expected a positive mean loss "
                          "and an accuracy in [0, 1]")
    return Passed(f"train_epoch trains in train mode, one backward per batch ({n_batches}), updates every "
                  "parameter and returns (loss, accuracy)")


@check("normalization_stats", cases=Param(list, [[64, 1, 28, 28], [40, 3, 32, 32]]))
def normalization_stats(ctx):
    """normalization_stats(train_images) -> (mean, std) of shape (C,), per channel over every training image
    and pixel (no subset, no other data), matching NumPy's computation (either std convention)."""
    for i, shape in enumerate(ctx.params["cases"]):
        rng = np.random.default_rng(ctx.seed + i)
        n, c = shape[0], shape[1]
        # Channels of different scales, and a first half unlike the second: a subset gives other figures.
        images = rng.uniform(0, 1, shape) * np.arange(1, c + 1)[None, :, None, None]
        images[: n // 2] += 0.5
        images = images.astype(np.float32)
        out = ctx.student.module.call("normalization_stats", tensor(images, "float32"))
        call = f"normalization_stats(images of shape {tuple(shape)})"
        if not isinstance(out, tuple) or len(out) != 2:
            raise CheckFailed(f"{call} should return (mean, std), but it returned {describe_type(out)}")
        mean = values_of(out[0], f"{call}'s mean", (c,))
        std = values_of(out[1], f"{call}'s std", (c,))
        x = images.astype(np.float64)
        expected_mean = x.mean(axis=(0, 2, 3))
        problem = mismatch(f"{call}'s mean", mean, expected_mean, rtol=1e-4, atol=1e-5)
        if not problem:
            problem = mismatch(f"{call}'s std", std, x.std(axis=(0, 2, 3)), rtol=1e-3, atol=1e-5)
        if problem:
            raise CheckFailed(problem + "\n  Compute per channel over all training images and pixels "
                              "(dims 0, 2, 3), from the images given and nothing else.")
    return Passed("per-channel mean and std over all the training images given")


def _gate(p, accuracy: float, summary: str, advice: str, details: dict) -> Passed:
    details = {"accuracy": round(accuracy, 6), "threshold": p["threshold"], **details}
    if accuracy < p["threshold"]:
        raise CheckFailed(f"{summary}: below the threshold. {advice}", details)
    return Passed(summary, details)


def _validate_best_config(config, p) -> list[str]:
    if not isinstance(config, dict):
        return [f"should be a dict, but it is {describe_type(config)}"]
    problems = []
    model = config.get("model", {})
    if not isinstance(model, dict) or set(model) - {"batchnorm", "dropout"}:
        problems.append(f"model must be a dict with batchnorm and dropout, got {model!r}")
    elif not isinstance(model.get("dropout", 0.0), (int, float)) or not 0 <= model.get("dropout", 0.0) < 1:
        problems.append(f"model's dropout must be in [0, 1), got {model.get('dropout')!r}")
    for key, low, high in (("lr", 0, 10), ("momentum", 0, 1), ("weight_decay", 0, 1)):
        v = config.get(key, 0.0 if key != "lr" else None)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not (low <= v < high) or (key == "lr" and v <= 0):
            problems.append(f"{key} must be a number in {'(' if key == 'lr' else '['}{low}, {high}), got {v!r}")
    for key, high in (("batch_size", 4096), ("epochs", p["max_epochs"])):
        v = config.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= high:
            problems.append(f"{key} must be an int from 1 to {high}, got {v!r}")
    return problems


@check("fit_accuracy_gate", needs_data=True, threshold=Param(float), config=Param(str, "BEST_CONFIG"),
       cls=Param(str, "LeNet5"), input=Param(list, [1, 28, 28]), fit_val_size=Param(int, 5000),
       max_epochs=Param(int, 10), device=Param(str, "auto", choices=("auto", "cpu")),
       cpu_time_s=Param(float, 240.0), gpu_time_s=Param(float, 120.0))
def fit_accuracy_gate(ctx):
    """LeNet5(**config["model"]) trained by the student's fit() with make_optimizer(config) on the training
    split (its last fit_val_size images are fit's val_loader), on the GPU when present, else the CPU; the
    grader's accuracy of the model's logits on its own held-out split."""
    p = ctx.params
    config = ctx.student.module.get(p["config"])
    problems = _validate_best_config(config, p)
    if problems:
        raise CheckFailed(f"{p['config']} cannot be used: " + "; ".join(problems))
    device, device_label = pick_device(ctx.student, p["device"])
    split = ctx.data()
    shape = tuple(p["input"])
    images = split.train_images.reshape(len(split.train_images), *shape)
    n_fit = len(images) - p["fit_val_size"]
    batch = config["batch_size"]
    train_loader = _loader(ctx, images[:n_fit], split.train_labels[:n_fit], batch, shuffle=True, device=device,
                           scale=1 / 255)
    val_loader = _loader(ctx, images[n_fit:], split.train_labels[n_fit:], 1000, shuffle=False, device=device,
                         scale=1 / 255)
    model = new_model(ctx, p["cls"], dict(config["model"]))
    model.call("to", device)
    optimizer = ctx.student.module.call("make_optimizer", model, config["lr"], momentum=config.get("momentum", 0.0),
                                        weight_decay=config.get("weight_decay", 0.0))
    limit = p["gpu_time_s"] if device == "cuda" else p["cpu_time_s"]
    with ctx.time_limit(limit):
        history = ctx.student.module.call("fit", model, train_loader, val_loader, config["epochs"], optimizer, device)
    check_history(history, config["epochs"], who="fit")
    _history_matches_the_model(ctx, model, history, images[n_fit:], split.train_labels[n_fit:], device)
    held_out = stored_tensor(ctx.student, split.val_images.reshape(len(split.val_images), *shape), scale=1 / 255,
                             device=device)
    logits = ctx.student.op("logits", target=model, x=held_out, batch_size=1000, device=device)
    if not isinstance(logits, np.ndarray) or logits.shape != (len(split.val_images), 10):
        raise CheckFailed(f"the model's output on the held-out images should be logits of shape "
                          f"({len(split.val_images)}, 10), got {describe_type(logits)}")
    accuracy = float(np.mean(logits.argmax(1) == split.val_labels))
    summary = (f"validation accuracy {accuracy:.4f} on {len(split.val_images)} held-out images after "
               f"{config['epochs']} epoch(s) of fit() on {n_fit} training images, on {device_label} "
               f"(threshold {p['threshold']:.4f})")
    return _gate(p, accuracy, summary, "Tune BEST_CONFIG (learning rate, momentum, batch norm, epochs) and check "
                 "that train_epoch steps the optimizer after every batch.",
                 {"device": device_label, "n_train": n_fit, "n_val": len(split.val_images)})


def _history_matches_the_model(ctx, model, history: dict, images: np.ndarray, labels: np.ndarray, device: str):
    """fit's last val_loss and val_acc are the returned model's evaluation on the val_loader it was given:
    the grader evaluates it there too (eval mode, no gradients)."""
    x = stored_tensor(ctx.student, images, scale=1 / 255, device=device)
    logits = ctx.student.op("logits", target=model, x=x, batch_size=1000, device=device)
    if not isinstance(logits, np.ndarray) or logits.shape != (len(labels), 10):
        return  # the gate's own check of the logits says what is wrong
    true_loss, true_acc = cross_entropy_from_logits(logits, labels), float(np.mean(logits.argmax(1) == labels))
    loss, acc = float(np.asarray(history["val_loss"][-1])), float(np.asarray(history["val_acc"][-1]))
    if abs(loss - true_loss) > 1e-3 * abs(true_loss) + 1e-4 or abs(acc - true_acc) > 1.5 / len(labels):
        raise CheckFailed(f"fit's history reports val_loss {loss:.4g} and val_acc {acc:.4g} for the last epoch, but "
                          f"the model fit returned gives {true_loss:.4g} and {true_acc:.4g} on the {len(labels)} "
                          "images of the val_loader fit was given (in eval mode, without gradients): the history "
                          "must hold evaluate(model, val_loader, device) after each epoch's training")


@check("circles_gate", threshold=Param(float), n_train=Param(int, 1000), n_val=Param(int, 1000),
       noise=Param(float, 0.2), epochs=Param(int, 30), eta=Param(float, 0.1), batch_size=Param(int, 10),
       nh=Param(int, 10))
def circles_gate(ctx):
    """train_circles(X, Y, epochs, eta, batch_size, nh, generator) on a generated Circles training set; the
    grader's accuracy of the returned module's logits on a held-out Circles set drawn with another seed."""
    p = ctx.params
    X, y = data_mod.circles(p["n_train"], seed=ctx.seed, noise=p["noise"])
    Xv, yv = data_mod.circles(p["n_val"], seed=ctx.seed + 1, noise=p["noise"])
    Y = np.eye(2)[y]
    model = ctx.student.module.call("train_circles", tensor(X, "float32"), tensor(Y, "float32"), p["epochs"],
                                    p["eta"], p["batch_size"], nh=p["nh"], generator=generator(ctx.student, ctx.seed))
    if not hasattr(model, "ref") or model.ref is None:
        raise CheckFailed(f"train_circles should return the trained nn.Module, but it returned {describe_type(model)}")
    logits = ctx.student.op("logits", target=model, x=stored_tensor(ctx.student, Xv), batch_size=1000)
    if not isinstance(logits, np.ndarray) or logits.shape != (p["n_val"], 2):
        raise CheckFailed(f"the returned model's output on (N, 2) inputs should have shape ({p['n_val']}, 2), got "
                          f"{describe_type(logits)}")
    accuracy = float(np.mean(logits.argmax(1) == yv))
    summary = (f"accuracy {accuracy:.4f} on {p['n_val']} held-out Circles points after train_circles(epochs="
               f"{p['epochs']}, eta={p['eta']}, batch_size={p['batch_size']}) on {p['n_train']} points "
               f"(threshold {p['threshold']:.4f})")
    return _gate(p, accuracy, summary, "Check that every minibatch takes an optimizer step, that the batches are "
                 "shuffled with the generator, and that the labels given to CrossEntropyLoss are class indices.",
                 {"n_train": p["n_train"], "n_val": p["n_val"]})
