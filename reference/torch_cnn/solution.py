"""Reference solution of the `torch_cnn` assignment: CNNs and regularisation in PyTorch
(seeds 000, 001, 002, 003): LeNet-5 with optional batch norm and dropout, seed 001's CIFAR-10
network, a parameter-matched MLP, and the training loop.

Shapes: N examples, C channels, H x W images, K classes.
"""
import math

import torch
from torch import nn

# The accuracy gate trains LeNet5(**BEST_CONFIG["model"]) with fit() on Fashion-MNIST.
BEST_CONFIG = dict(model=dict(batchnorm=True, dropout=0.0), lr=0.05, momentum=0.9, weight_decay=0.0,
                   batch_size=64, epochs=2)


class LeNet5(nn.Module):
    """(N, in_channels, 28, 28) -> logits (N, num_classes); 61,706 parameters with the defaults."""

    def __init__(self, num_classes=10, in_channels=1, batchnorm=False, dropout=0.0):
        super().__init__()

        def conv_block(c_in, c_out, padding):
            layers = [nn.Conv2d(c_in, c_out, kernel_size=5, padding=padding)]
            if batchnorm:
                layers.append(nn.BatchNorm2d(c_out))
            return layers + [nn.ReLU(), nn.MaxPool2d(2)]

        def hidden(n_in, n_out):
            layers = [nn.Linear(n_in, n_out), nn.ReLU()]
            return layers + ([nn.Dropout(dropout)] if dropout > 0 else [])

        self.features = nn.Sequential(*conv_block(in_channels, 6, 2), *conv_block(6, 16, 0))
        self.classifier = nn.Sequential(nn.Flatten(), *hidden(16 * 5 * 5, 120), *hidden(120, 84),
                                        nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class CifarNet(nn.Module):
    """Seed 001's network: (N, 3, 32, 32) -> logits (N, num_classes); 1,191,170 parameters."""

    def __init__(self, num_classes=10):
        super().__init__()
        blocks = []
        for c_in, c_out in [(3, 32), (32, 64), (64, 64)]:
            blocks += [nn.Conv2d(c_in, c_out, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 4 * 4, 1000), nn.ReLU(),
                                        nn.Linear(1000, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def mlp_parameters(width, depth, in_features=784, num_classes=10):
    """Parameters of `depth` hidden layers of `width` units: the first, the depth-1 square ones, the output."""
    return (in_features + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * num_classes


class ParamMatchedMLP(nn.Module):
    """An MLP of `depth` equal-width ReLU layers whose parameter count is the closest to `n_params`."""

    def __init__(self, n_params, in_features=784, num_classes=10, depth=2):
        super().__init__()
        self.width = self.best_width(n_params, in_features, num_classes, depth)
        layers, n_in = [nn.Flatten()], in_features
        for _ in range(depth):
            layers += [nn.Linear(n_in, self.width), nn.ReLU()]
            n_in = self.width
        layers.append(nn.Linear(n_in, num_classes))
        self.net = nn.Sequential(*layers)

    @staticmethod
    def best_width(n_params, in_features, num_classes, depth):
        # The count is increasing in the width: solve the quadratic, then compare the neighbours.
        a, b = depth - 1, in_features + 1 + (depth - 1) + num_classes + 1
        c = num_classes - n_params
        guess = -c / b if a == 0 else (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
        candidates = [w for w in range(max(1, math.floor(guess) - 1), math.ceil(guess) + 2)]
        return min(candidates, key=lambda w: (abs(mlp_parameters(w, depth, in_features, num_classes) - n_params), w))

    def forward(self, x):
        return self.net(x)


def count_parameters(model):
    """Number of trainable parameter entries."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def make_optimizer(model, lr, momentum=0.0, weight_decay=0.0):
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


def train_epoch(model, loader, optimizer, device):
    """One epoch of minibatch SGD in train mode -> (mean loss, accuracy) over the epoch's examples."""
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(y)
        correct += (logits.argmax(dim=1) == y).sum().item()
        seen += len(y)
    return total_loss / seen, correct / seen


def evaluate(model, loader, device):
    """(mean loss, accuracy) in eval mode without gradient tracking; changes nothing in the model."""
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total_loss += loss_fn(logits, y).item()
            correct += (logits.argmax(dim=1) == y).sum().item()
            seen += len(y)
    return total_loss / seen, correct / seen


def fit(model, train_loader, val_loader, epochs, optimizer, device, scheduler=None):
    """Trains for `epochs` epochs -> per-epoch train_loss, train_acc, val_loss, val_acc lists."""
    model.to(device)
    history = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    for _ in range(epochs):
        train_loss, train_acc = train_epoch(model, train_loader, optimizer, device)
        val_loss, val_acc = evaluate(model, val_loader, device)
        if scheduler is not None:
            scheduler.step()
        for key, value in zip(history, (train_loss, train_acc, val_loss, val_acc)):
            history[key].append(value)
    return history


def normalization_stats(train_images):
    """train_images: (N, C, H, W) float -> (mean, std), each (C,), over the training images only."""
    mean = train_images.mean(dim=(0, 2, 3))
    std = train_images.std(dim=(0, 2, 3))
    return mean, std
