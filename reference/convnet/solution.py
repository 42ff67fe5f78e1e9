"""Reference solution of the `convnet` assignment: ConvNet layers from scratch in NumPy.

Every layer follows one contract: `params` and `grads` (dicts with the same keys and shapes),
`training` (True after construction; `train()` / `eval()`), `forward(x)` and `backward(grad_out)`,
which overwrites `grads` and returns the gradient with respect to `x`, using what `forward` stored.
Shapes: N examples, C channels, H x W images, D features, K classes.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

BEST_CONFIG = dict(n_epochs=3, lr=0.05, batch_size=32)


class Layer:
    def __init__(self):
        self.params, self.grads, self.training = {}, {}, True

    def train(self):
        self.training = True

    def eval(self):
        self.training = False


def _uniform(rng, bound, shape):
    return rng.uniform(-bound, bound, size=shape)


class Linear(Layer):
    """x: (N, in) -> (N, out); W (in, out), b (out,)."""

    def __init__(self, in_features, out_features, rng=None):
        super().__init__()
        rng = np.random.default_rng() if rng is None else rng
        bound = 1 / np.sqrt(in_features)
        self.params = {"W": _uniform(rng, bound, (in_features, out_features)),
                       "b": _uniform(rng, bound, (out_features,))}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, grad_out):
        self.grads = {"W": self.x.T @ grad_out, "b": grad_out.sum(axis=0)}
        return grad_out @ self.params["W"].T


class ReLU(Layer):
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, grad_out):
        return grad_out * self.mask


class Sigmoid(Layer):
    def forward(self, x):
        self.out = np.exp(-np.logaddexp(0.0, -x))
        return self.out

    def backward(self, grad_out):
        return grad_out * self.out * (1 - self.out)


class Tanh(Layer):
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad_out):
        return grad_out * (1 - self.out ** 2)


def _windows(x, k, stride):
    """x: (N, C, H, W) -> view (N, C, H_out, W_out, k, k) of every k x k window, moved by stride."""
    return sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]


class Conv2d(Layer):
    """x: (N, C_in, H, W) -> (N, C_out, H_out, W_out); cross-correlation with zero padding, as torch.
    W (C_out, C_in, k, k), b (C_out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=None):
        super().__init__()
        rng = np.random.default_rng() if rng is None else rng
        self.k, self.stride, self.padding = kernel_size, stride, padding
        bound = 1 / np.sqrt(in_channels * kernel_size * kernel_size)
        self.params = {"W": _uniform(rng, bound, (out_channels, in_channels, kernel_size, kernel_size)),
                       "b": _uniform(rng, bound, (out_channels,))}

    def forward(self, x):
        """im2col: every window becomes a row, and the convolution one matrix product."""
        p = self.padding
        self.x_shape = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
        windows = _windows(xp, self.k, self.stride)                     # (N, C, Ho, Wo, k, k)
        N, C, Ho, Wo = windows.shape[:4]
        self.out_hw = (Ho, Wo)
        self.cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, -1)   # (N Ho Wo, C k k)
        W = self.params["W"].reshape(len(self.params["W"]), -1)                    # (C_out, C k k)
        out = self.cols @ W.T + self.params["b"]                                   # (N Ho Wo, C_out)
        return out.reshape(N, Ho, Wo, -1).transpose(0, 3, 1, 2)

    def backward(self, grad_out):
        """grad_out: (N, C_out, H_out, W_out) -> dx (N, C_in, H, W)."""
        N, C, H, W = self.x_shape
        p, s, k = self.padding, self.stride, self.k
        Ho, Wo = self.out_hw
        g = grad_out.transpose(0, 2, 3, 1).reshape(N * Ho * Wo, -1)               # (N Ho Wo, C_out)
        Wmat = self.params["W"].reshape(len(self.params["W"]), -1)
        self.grads = {"W": (g.T @ self.cols).reshape(self.params["W"].shape), "b": g.sum(axis=0)}
        dcols = (g @ Wmat).reshape(N, Ho, Wo, C, k, k)
        dxp = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=dcols.dtype)
        for i in range(k):          # col2im: k * k strided additions, every window position at once
            for j in range(k):
                dxp[:, :, i:i + s * Ho:s, j:j + s * Wo:s] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return dxp[:, :, p:p + H, p:p + W]


class MaxPool2d(Layer):
    """x: (N, C, H, W) -> (N, C, H_out, W_out); windows that do not fit are dropped."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.k, self.stride = kernel_size, kernel_size if stride is None else stride

    def forward(self, x):
        self.x_shape = x.shape
        cols = _windows(x, self.k, self.stride)                         # (N, C, Ho, Wo, k, k)
        flat = cols.reshape(*cols.shape[:4], -1)
        self.argmax = flat.argmax(axis=-1)
        return np.take_along_axis(flat, self.argmax[..., None], axis=-1)[..., 0]

    def backward(self, grad_out):
        """Routes each gradient to its window's maximum (summed where windows overlap)."""
        N, C, Ho, Wo = grad_out.shape
        k, s = self.k, self.stride
        dwin = np.zeros((N, C, Ho, Wo, k * k), dtype=grad_out.dtype)
        np.put_along_axis(dwin, self.argmax[..., None], grad_out[..., None], axis=-1)
        dwin = dwin.reshape(N, C, Ho, Wo, k, k)
        dx = np.zeros(self.x_shape, dtype=grad_out.dtype)
        for i in range(k):
            for j in range(k):
                dx[:, :, i:i + s * Ho:s, j:j + s * Wo:s] += dwin[:, :, :, :, i, j]
        return dx


class Flatten(Layer):
    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out):
        return grad_out.reshape(self.shape)


class Dropout(Layer):
    """Inverted dropout: in training, zero each entry with probability p and scale the rest by 1/(1-p)."""

    def __init__(self, p, rng=None):
        super().__init__()
        self.p = p
        self.rng = np.random.default_rng() if rng is None else rng

    def forward(self, x):
        if not self.training or self.p == 0:
            self.mask = np.ones_like(x)
            return x
        self.mask = (self.rng.random(x.shape) >= self.p) / (1 - self.p)
        return x * self.mask

    def backward(self, grad_out):
        return grad_out * self.mask


class BatchNorm1d(Layer):
    """x: (N, D). Training: batch mean and biased variance; running statistics as torch (unbiased var)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.params = {"gamma": np.ones(num_features), "beta": np.zeros(num_features)}
        self.running_mean, self.running_var = np.zeros(num_features), np.ones(num_features)

    def forward(self, x):
        if self.training:
            n = x.shape[0]
            mean, var = x.mean(axis=0), x.var(axis=0)
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean
            self.running_var = (1 - m) * self.running_var + m * var * n / max(n - 1, 1)
        else:
            mean, var = self.running_mean, self.running_var
        self.inv_std = 1 / np.sqrt(var + self.eps)
        self.xhat = (x - mean) * self.inv_std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, grad_out):
        self.grads = {"gamma": (grad_out * self.xhat).sum(axis=0), "beta": grad_out.sum(axis=0)}
        dxhat = grad_out * self.params["gamma"]
        if not self.training:
            return dxhat * self.inv_std
        n = grad_out.shape[0]
        return self.inv_std / n * (n * dxhat - dxhat.sum(axis=0) - self.xhat * (dxhat * self.xhat).sum(axis=0))


class SoftmaxCrossEntropy:
    """forward(logits (N, K), labels (N,) int) -> mean loss; backward() -> dL/dlogits (N, K)."""

    def forward(self, logits, labels):
        z = logits - logits.max(axis=1, keepdims=True)
        log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        self.probs, self.labels = np.exp(log_probs), labels
        return float(-log_probs[np.arange(len(labels)), labels].mean())

    def backward(self):
        grad = self.probs.copy()
        grad[np.arange(len(self.labels)), self.labels] -= 1
        return grad / len(self.labels)


class Sequential(Layer):
    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out):
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def train(self):
        self.training = True
        for layer in self.layers:
            layer.train()

    def eval(self):
        self.training = False
        for layer in self.layers:
            layer.eval()


class SGD:
    """torch.optim.SGD semantics: g = grad + wd * p; v = momentum * v + g (v = g at the first step); p -= lr * v."""

    def __init__(self, model, lr, momentum=0.0, weight_decay=0.0):
        self.model, self.lr, self.momentum, self.weight_decay = model, lr, momentum, weight_decay
        self.velocity = {}

    def step(self):
        for i, layer in enumerate(self.model.layers):
            for name, p in layer.params.items():
                g = layer.grads[name] + self.weight_decay * p
                if self.momentum:
                    key = (i, name)
                    v = g if key not in self.velocity else self.momentum * self.velocity[key] + g
                    self.velocity[key] = v
                    g = v
                p -= self.lr * g


def conv_output_shape(h, w, kernel_size, stride=1, padding=0):
    return ((h + 2 * padding - kernel_size) // stride + 1, (w + 2 * padding - kernel_size) // stride + 1)


def receptive_field(kernel_sizes, strides):
    r = 1
    for k, s in zip(reversed(list(kernel_sizes)), reversed(list(strides))):
        r = s * r + (k - s)
    return r


def count_parameters(model):
    return int(sum(p.size for layer in model.layers for p in layer.params.values()))


def build_convnet(in_channels=1, n_classes=10, rng=None):
    """(N, in_channels, 28, 28) -> (N, n_classes) logits: 20,338 parameters."""
    rng = np.random.default_rng(0) if rng is None else rng
    return Sequential(
        Conv2d(in_channels, 8, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),    # 8 x 14 x 14
        Conv2d(8, 16, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),             # 16 x 7 x 7
        Flatten(), Linear(16 * 7 * 7, 24, rng=rng), ReLU(), Linear(24, n_classes, rng=rng))


def train(model, X_train, y_train, n_epochs, lr, batch_size, rng=None):
    """X_train: (N, C, H, W), y_train: (N,) int -> per-epoch "train_loss", "train_acc"."""
    rng = np.random.default_rng(0) if rng is None else rng
    loss_fn, opt = SoftmaxCrossEntropy(), SGD(model, lr, momentum=0.9)
    history = {"train_loss": [], "train_acc": []}
    model.train()
    for _ in range(n_epochs):
        order = rng.permutation(len(X_train))
        total, correct = 0.0, 0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            logits = model.forward(X_train[idx])
            total += loss_fn.forward(logits, y_train[idx]) * len(idx)
            correct += int((logits.argmax(axis=1) == y_train[idx]).sum())
            model.backward(loss_fn.backward())
            opt.step()
        history["train_loss"].append(total / len(order))
        history["train_acc"].append(correct / len(order))
    return history


def predict(model, X):
    """X: (N, C, H, W) -> (N,) int labels, in eval mode."""
    model.eval()
    return np.concatenate([model.forward(X[s:s + 500]).argmax(axis=1) for s in range(0, len(X), 500)])
