"""A correct torch_cnn solution in another style: explicit attributes with other names, F.relu,
F.max_pool2d and F.dropout instead of modules, a brute-force width search, population std."""
import torch
import torch.nn.functional as F
from torch import nn

BEST_CONFIG = {"model": {"batchnorm": True, "dropout": 0.0}, "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0,
               "batch_size": 64, "epochs": 2}


class LeNet5(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, batchnorm=False, dropout=0.0):
        super().__init__()
        self.c1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.n1 = nn.BatchNorm2d(6) if batchnorm else nn.Identity()
        self.c2 = nn.Conv2d(6, 16, 5)
        self.n2 = nn.BatchNorm2d(16) if batchnorm else nn.Identity()
        self.f1, self.f2, self.out = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, num_classes)
        self.p = dropout

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.n1(self.c1(x))), 2)
        x = F.max_pool2d(F.relu(self.n2(self.c2(x))), 2)
        x = torch.flatten(x, 1)
        x = F.dropout(F.relu(self.f1(x)), self.p, training=self.training)
        x = F.dropout(F.relu(self.f2(x)), self.p, training=self.training)
        return self.out(x)


class CifarNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(3, 32, 5, padding=2), nn.Conv2d(32, 64, 5, padding=2),
                                    nn.Conv2d(64, 64, 5, padding=2)])
        self.hidden, self.head = nn.Linear(1024, 1000), nn.Linear(1000, num_classes)

    def forward(self, x):
        for conv in self.convs:
            x = F.max_pool2d(F.relu(conv(x)), 2)
        return self.head(F.relu(self.hidden(x.reshape(x.shape[0], -1))))


def _count(width, depth, n_in, n_out):
    sizes = [n_in] + [width] * depth + [n_out]
    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))


class ParamMatchedMLP(nn.Module):
    def __init__(self, n_params, in_features=784, num_classes=10, depth=2):
        super().__init__()
        width = min(range(1, 4096), key=lambda w: abs(_count(w, depth, in_features, num_classes) - n_params))
        sizes = [in_features] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.last = nn.Linear(width, num_classes)

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.last(x)


def count_parameters(model):
    return sum(p.numel() for _, p in model.named_parameters() if p.requires_grad)


def make_optimizer(model, lr, momentum=0.0, weight_decay=0.0):
    return torch.optim.SGD(params=model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


def train_epoch(model, loader, optimizer, device):
    model.train()
    losses, correct, n = [], 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        out = model(x)
        loss = F.cross_entropy(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item() * x.shape[0])
        correct += int((out.argmax(1) == y).sum())
        n += x.shape[0]
    return sum(losses) / n, correct / n


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    losses, correct, n = 0.0, 0, 0
    for x, y in loader:
        out = model(x.to(device))
        losses += F.cross_entropy(out, y.to(device), reduction="sum").item()
        correct += int((out.argmax(1) == y.to(device)).sum())
        n += len(y)
    return losses / n, correct / n


def fit(model, train_loader, val_loader, epochs, optimizer, device, scheduler=None):
    model = model.to(device)
    out = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc")}
    for _ in range(epochs):
        for key, value in zip(out, (*train_epoch(model, train_loader, optimizer, device),
                                    *evaluate(model, val_loader, device))):
            out[key].append(value)
        if scheduler:
            scheduler.step()
    return out


def normalization_stats(train_images):
    flat = train_images.transpose(0, 1).reshape(train_images.shape[1], -1)
    return flat.mean(dim=1), flat.std(dim=1, unbiased=False)
