"""Assignment `convnet`: ConvNet layers from scratch in NumPy.

Every layer follows one contract:
- `params`: dict of parameter arrays ({} for parameter-free layers); `grads`: dict with the same keys
  and shapes, filled (overwritten, not accumulated) by `backward`;
- `training`: True after construction; `train()` / `eval()` set it;
- `forward(x)` -> output; `backward(grad_out)` -> gradient with respect to x, using what `forward`
  stored. `forward` must not modify x.
Shapes: N examples, C channels, H x W images, D features, K classes. NumPy only.
Check your work with `grader check solution.py --assignment convnet`.
"""
import numpy as np

# Your training settings for the accuracy gate: the grader trains build_convnet() with your train()
# and these settings on a Fashion-MNIST training subset, then checks predict() on held-out images.
BEST_CONFIG = dict(n_epochs=None, lr=None, batch_size=None)


class Layer:
    def __init__(self):
        self.params, self.grads, self.training = {}, {}, True

    def train(self):
        self.training = True

    def eval(self):
        self.training = False


class Linear(Layer):
    """x: (N, in) -> (N, out). params W (in, out), b (out,), both U(-1/sqrt(in), 1/sqrt(in)) from rng
    (a np.random.Generator; default np.random.default_rng())."""

    def __init__(self, in_features, out_features, rng=None):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError


class ReLU(Layer):
    """Elementwise, any shape."""

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError


class Sigmoid(Layer):
    """Elementwise, any shape."""

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError


class Tanh(Layer):
    """Elementwise, any shape."""

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError


class Conv2d(Layer):
    """x: (N, C_in, H, W) -> (N, C_out, H_out, W_out): cross-correlation with zero padding, as
    torch.nn.Conv2d. params W (C_out, C_in, k, k), b (C_out,), both U(-1/sqrt(C_in k k), +) from rng."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=None):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError


class MaxPool2d(Layer):
    """x: (N, C, H, W) -> (N, C, H_out, W_out). stride defaults to kernel_size; no padding; windows that
    do not fit are dropped."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError


class Flatten(Layer):
    """(N, ...) -> (N, prod); backward restores the shape."""

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError


class Dropout(Layer):
    """Inverted dropout: in training, zero each entry with probability p and scale the rest by
    1/(1-p), drawing from rng; in eval, the identity. backward uses the same mask."""

    def __init__(self, p, rng=None):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError


class BatchNorm1d(Layer):
    """x: (N, D). params gamma (D,) ones, beta (D,) zeros. Training: normalise with the batch mean and
    biased variance, and update running_mean, running_var as torch does (momentum; the running variance
    uses the unbiased batch variance). Eval: normalise with the running statistics."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError


class SoftmaxCrossEntropy:
    """forward(logits (N, K), labels (N,) int) -> mean loss (float), stable for logits up to +-1e3;
    backward() -> dL/dlogits (N, K)."""

    def forward(self, logits, labels):
        raise NotImplementedError

    def backward(self):
        raise NotImplementedError


class Sequential(Layer):
    """forward and backward through `self.layers`; train() and eval() on every layer."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError

    def train(self):
        raise NotImplementedError

    def eval(self):
        raise NotImplementedError


class SGD:
    """step(): updates every params entry of every layer of model from its grads, with momentum and
    weight decay as torch.optim.SGD."""

    def __init__(self, model, lr, momentum=0.0, weight_decay=0.0):
        raise NotImplementedError

    def step(self):
        raise NotImplementedError


def conv_output_shape(h, w, kernel_size, stride=1, padding=0):
    """-> (h_out, w_out) = floor((h + 2p - k) / s) + 1 for each side."""
    raise NotImplementedError


def receptive_field(kernel_sizes, strides):
    """Receptive field, in input pixels, of one unit of the last layer of a stack of layers."""
    raise NotImplementedError


def count_parameters(model):
    """Total number of parameter entries of a Sequential."""
    raise NotImplementedError


def build_convnet(in_channels=1, n_classes=10, rng=None):
    """Your ConvNet for (N, in_channels, 28, 28) inputs -> (N, n_classes) logits: at least one Conv2d
    and one MaxPool2d, at most 500,000 parameters."""
    raise NotImplementedError


def train(model, X_train, y_train, n_epochs, lr, batch_size, rng=None):
    """Minibatch SGD with SoftmaxCrossEntropy. X_train (N, C, H, W), y_train (N,) int.
    Returns per-epoch lists "train_loss" and "train_acc"."""
    raise NotImplementedError


def predict(model, X):
    """X: (N, C, H, W) -> (N,) integer labels, with the model in eval mode."""
    raise NotImplementedError
