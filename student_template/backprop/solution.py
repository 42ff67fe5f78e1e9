"""Assignment `backprop`: backpropagation by hand with PyTorch tensors (seed 001, part 2-ab).

A network with one tanh hidden layer and a softmax output: first forward and backward by hand on
tensors (no autograd in `backward`), then the same network as an nn.Module trained with
torch.optim on the Circles data set. Shapes: N examples, nx inputs, nh hidden units, ny classes;
weights are (out, in), as in nn.Linear. Check your work with
`grader check solution.py --assignment backprop`.
"""
import torch
from torch import nn


def init_params(nx, nh, ny, generator=None):
    """-> dict of tensors Wh (nh, nx), bh (nh,), Wy (ny, nh), by (ny,), entries drawn from N(0, 0.3^2)
    with `generator` (a torch.Generator: pass it to torch.randn)."""
    raise NotImplementedError


def forward(params, X):
    """X: (N, nx) -> (yhat, outputs): htilde = X Wh^T + bh, h = tanh(htilde), ytilde = h Wy^T + by,
    yhat = softmax(ytilde) over the classes; outputs holds "X", "htilde", "h", "ytilde", "yhat"."""
    raise NotImplementedError


def loss_accuracy(yhat, Y):
    """yhat, Y: (N, ny), Y one-hot -> (L, acc): the mean cross-entropy as a 0-d tensor and the
    accuracy as a Python float in [0, 1]."""
    raise NotImplementedError


def backward(params, outputs, Y):
    """The gradients of the mean loss by hand, without autograd -> dict "Wh", "bh", "Wy", "by"
    (each the shape of its parameter)."""
    raise NotImplementedError


def sgd(params, grads, eta):
    """-> the updated parameters, p - eta * grad for each; do not modify `grads`."""
    raise NotImplementedError


class MLP(nn.Module):
    """The same network as an nn.Module: (N, nx) -> logits (N, ny) (no softmax: nn.CrossEntropyLoss
    applies it)."""

    def __init__(self, nx, nh, ny):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError


def train_circles(X, Y, epochs, eta, batch_size, nh=10, generator=None):
    """X: (N, 2) float tensor, Y: (N, 2) one-hot. Train an MLP(2, nh, 2) with torch.optim.SGD and
    nn.CrossEntropyLoss on minibatches shuffled with `generator`; return the trained module."""
    raise NotImplementedError
