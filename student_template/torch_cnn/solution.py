"""Assignment `torch_cnn`: CNNs and regularisation in PyTorch (seeds 000, 001, 002, 003).

Implement every class and function below. Shapes: N examples, C channels, H x W images, K classes.
Models return logits (no softmax: nn.CrossEntropyLoss applies it). Check your work with
`grader check solution.py --assignment torch_cnn`.
"""
import torch
from torch import nn

# Your hyperparameters for the accuracy gate: the grader builds LeNet5(**BEST_CONFIG["model"]), an
# optimizer with make_optimizer(model, lr, momentum, weight_decay), and trains it with your fit() for
# `epochs` epochs (at most 5) on Fashion-MNIST images scaled to [0, 1], batches of `batch_size`; then it
# measures the accuracy of the model's logits on its own held-out images.
BEST_CONFIG = dict(model=dict(batchnorm=None, dropout=None), lr=None, momentum=None, weight_decay=None,
                   batch_size=None, epochs=None)


class LeNet5(nn.Module):
    """(N, in_channels, 28, 28) -> logits (N, num_classes).

    conv 6@5x5 padding 2 -> ReLU -> max-pool 2 -> conv 16@5x5 -> ReLU -> max-pool 2 -> flatten ->
    linear 120 -> ReLU -> linear 84 -> ReLU -> linear num_classes. With `batchnorm`, a BatchNorm2d
    after each convolution, before its ReLU. With dropout > 0, Dropout(dropout) after each of the two
    hidden linear layers' ReLU. 61,706 parameters with the defaults.
    """

    def __init__(self, num_classes=10, in_channels=1, batchnorm=False, dropout=0.0):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError


class CifarNet(nn.Module):
    """(N, 3, 32, 32) -> logits (N, num_classes): conv 32@5x5 pad 2 -> ReLU -> max-pool 2 -> conv 64@5x5
    pad 2 -> ReLU -> max-pool 2 -> conv 64@5x5 pad 2 -> ReLU -> max-pool 2 -> linear 1000 -> ReLU ->
    linear num_classes (1,191,170 parameters)."""

    def __init__(self, num_classes=10):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError


class ParamMatchedMLP(nn.Module):
    """(N, in_features) -> logits: `depth` hidden layers of one width with ReLU, the width chosen so that
    the parameter count is the closest achievable to `n_params`."""

    def __init__(self, n_params, in_features=784, num_classes=10, depth=2):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError


def count_parameters(model):
    """Number of trainable parameter entries."""
    raise NotImplementedError


def make_optimizer(model, lr, momentum=0.0, weight_decay=0.0):
    """A torch.optim.SGD over the model's parameters."""
    raise NotImplementedError


def train_epoch(model, loader, optimizer, device):
    """One epoch over `loader` (batches (x, y)) in train mode -> (mean loss, accuracy)."""
    raise NotImplementedError


def evaluate(model, loader, device):
    """(mean loss, accuracy) over `loader` with the model in eval mode and no gradient tracking."""
    raise NotImplementedError


def fit(model, train_loader, val_loader, epochs, optimizer, device, scheduler=None):
    """-> dict of per-epoch lists "train_loss", "train_acc", "val_loss", "val_acc"."""
    raise NotImplementedError


def normalization_stats(train_images):
    """train_images: float tensor (N, C, H, W) -> (mean, std), tensors of shape (C,), per channel over
    the training images only."""
    raise NotImplementedError
