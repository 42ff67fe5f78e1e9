"""Every realistic bug loses the item that names it, and the message points at the cause.

Each mutant is the reference with one edit. The item(s) it must lose are graded (not the whole
rubric, to keep the suite fast); `phrase` must appear in the feedback.
"""
from __future__ import annotations

import pytest

from .conftest import by_id, mutate

MUTANTS = [
    # (name, old, new, items that must fail, phrase in the first item's message)
    ("dW transposed",
     'grads[f"dW{l}"] = cache[f"Z{l - 1}"].T @ dA', 'grads[f"dW{l}"] = (cache[f"Z{l - 1}"].T @ dA).T',
     ["backward_relu"], "transpose"),
    ("missing 1/N in the output gradient",
     'dA = (cache[f"Z{L}"] - labels) / n', 'dA = (cache[f"Z{L}"] - labels)',
     ["backward_relu", "backward_tanh"], "average over the batch"),
    ("flipped sign of the output gradient",
     'dA = (cache[f"Z{L}"] - labels) / n', 'dA = (labels - cache[f"Z{L}"]) / n',
     ["backward_relu", "backward_sigmoid"], "wrong sign"),
    ("ReLU derivative on the wrong side",
     "return (x > 0).astype(float)", "return (x < 0).astype(float)",
     ["relu", "backward_relu"], "relu(x, grad=True)"),
    ("softmax without max-subtraction",
     "z = x - np.max(x, axis=-1, keepdims=True)", "z = x",
     ["softmax_stable"], "subtract each row's maximum"),
    ("non-zero biases at init",
     'self.weights[f"b{l}"] = np.zeros((1, fan_out))', 'self.weights[f"b{l}"] = np.full((1, fan_out), 0.01)',
     ["init_glorot", "init_normal", "init_zero"], "should be all zeros"),
    ("Glorot with the wrong fan",
     "d = np.sqrt(6.0 / (fan_in + fan_out))", "d = np.sqrt(6.0 / fan_in)",
     ["init_glorot"], "fan"),
    ("normal init with the wrong scale",
     "W = self.rng.standard_normal((fan_in, fan_out))", "W = self.rng.standard_normal((fan_in, fan_out)) * 0.1",
     ["init_normal"], "standard deviation"),
    ("numerical_gradient leaves the weights perturbed",
     "        self.weights[param] = original\n        return grad", "        return grad",
     ["numerical_gradient"], "restore"),
    ("numerical_gradient with a one-sided difference",
     "                w.flat[i] += sign * eps\n                self.weights[param] = w\n"
     "                value = self.loss(self.forward(x)[f\"Z{L}\"], labels)\n"
     "                grad[i] += sign * value\n            grad[i] /= 2 * eps",
     "                w.flat[i] += (sign + 1) / 2 * eps\n                self.weights[param] = w\n"
     "                value = self.loss(self.forward(x)[f\"Z{L}\"], labels)\n"
     "                grad[i] += sign * value\n            grad[i] /= eps",
     ["numerical_gradient"], "one-sided"),
    ("numerical_gradient divides by eps, not 2 eps",
     "            grad[i] /= 2 * eps", "            grad[i] /= eps",
     ["numerical_gradient"], "2 eps"),
    ("update with the wrong sign",
     'self.weights[f"W{l}"] -= self.lr * grads[f"dW{l}"]', 'self.weights[f"W{l}"] += self.lr * grads[f"dW{l}"]',
     ["update", "training"], "wrong sign"),
    ("update ignores the learning rate",
     'self.weights[f"b{l}"] -= self.lr * grads[f"db{l}"]', 'self.weights[f"b{l}"] -= grads[f"db{l}"]',
     ["update"], "b1 after update"),
    ("db not summed over the batch",
     'grads[f"db{l}"] = np.sum(dA, axis=0, keepdims=True)', 'grads[f"db{l}"] = dA',
     ["backward_relu"], "sum over the batch"),
    ("bias gradient missing",
     'grads[f"db{l}"] = np.sum(dA, axis=0, keepdims=True)', 'grads[f"db{l}"] = np.zeros((1, dA.shape[1]))',
     ["backward_relu"], "all zeros"),
    ("loss without clipping",
     "p = np.clip(prediction, self.epsilon, 1 - self.epsilon)", "p = prediction",
     ["loss"], "infinity"),
    ("loss summed over the batch",
     "return float(-np.sum(labels * np.log(p)) / prediction.shape[0])", "return float(-np.sum(labels * np.log(p)))",
     ["loss"], "average over the batch"),
    ("sigmoid derivative wrong",
     "            return s * (1 - s)", "            return s",
     ["sigmoid", "backward_sigmoid"], "sigmoid(x, grad=True)"),
    ("tanh derivative wrong",
     "            return 1 - t ** 2", "            return 1 - t",
     ["tanh", "backward_tanh"], "tanh(x, grad=True)"),
    ("softmax over the wrong axis",
     "return e / np.sum(e, axis=-1, keepdims=True)", "return e / np.sum(e, axis=0, keepdims=True)",
     ["softmax"], "does not match"),
    ("softmax on the output layer forgotten",
     'cache[f"Z{l}"] = self.activation(A) if l < L else self.softmax(A)', 'cache[f"Z{l}"] = self.activation(A)',
     ["forward"], "cache[\"Z"),
    ("activation dispatch mixes up sigmoid and tanh",
     'if self.activation_str == "sigmoid":\n            return self.sigmoid(x, grad)',
     'if self.activation_str == "sigmoid":\n            return self.tanh(x, grad)',
     ["activation_dispatch"], "activation='sigmoid'"),
    ("count_parameters forgets the biases",
     "return int(sum(w.size for w in self.weights.values()))",
     'return int(sum(w.size for k, w in self.weights.items() if k.startswith("W")))',
     ["count_parameters"], "biases are missing"),
    ("BEST_CONFIG too small",
     "BEST_CONFIG = dict(hidden_dims=(512, 256)", "BEST_CONFIG = dict(hidden_dims=(64, 32)",
     ["best_config"], "between 500,000 and 1,000,000"),
    ("train never updates",
     "                self.update(self.backward(cache, self._one_hot(y_train[idx])))",
     "                self.backward(cache, self._one_hot(y_train[idx]))",
     ["training"], "should fall"),
    ("numpy-only rule broken",
     "import numpy as np\n", "import numpy as np\nimport torch\n",
     ["no_forbidden_imports"], "line"),
]


@pytest.mark.parametrize("name, old, new, items, phrase", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_mutant_loses_the_item_that_names_the_bug(name, old, new, items, phrase, reference_source,
                                                  fast_rubric, grade_source):
    result = grade_source(mutate(reference_source, old, new), fast_rubric, only=items)
    results = by_id(result)
    for item in items:
        assert results[item].status == "failed", f"{name}: {item} passed: {results[item].message}"
        assert results[item].points == 0
    assert phrase in results[items[0]].message, results[items[0]].message


def test_at_least_fifteen_mutants():
    assert len(MUTANTS) >= 15


def test_forbidden_import_costs_the_items_that_depend_on_it(reference_source, fast_rubric, grade_source):
    source = mutate(reference_source, "import numpy as np\n", "import numpy as np\ntry:\n    import torch\nexcept ImportError:\n    pass\n")
    results = by_id(grade_source(source, fast_rubric, only=["no_forbidden_imports", "backward_relu", "relu"]))
    assert results["no_forbidden_imports"].status == "failed"
    assert "torch" in results["no_forbidden_imports"].message
    assert results["backward_relu"].status == "failed" and "needs item(s) no_forbidden_imports" in results["backward_relu"].message
    assert results["relu"].passed
