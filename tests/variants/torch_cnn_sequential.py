"""A correct torch_cnn solution with nn.Sequential blocks named by an OrderedDict, in-place ReLUs,
nn.Dropout modules, x.view for flattening, inference_mode, and a parameter-group optimizer."""
from collections import OrderedDict

import torch
from torch import nn

BEST_CONFIG = dict(model=dict(batchnorm=True, dropout=0.1), lr=0.05, momentum=0.9, weight_decay=1e-4,
                   batch_size=64, epochs=2)


class LeNet5(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, batchnorm=False, dropout=0.0):
        super().__init__()
        blocks = OrderedDict()
        for i, (c_in, c_out, pad) in enumerate([(in_channels, 6, 2), (6, 16, 0)]):
            blocks[f"conv{i}"] = nn.Conv2d(c_in, c_out, kernel_size=(5, 5), padding=pad)
            if batchnorm:
                blocks[f"bn{i}"] = nn.BatchNorm2d(c_out)
            blocks[f"act{i}"] = nn.ReLU(inplace=True)
            blocks[f"pool{i}"] = nn.MaxPool2d(kernel_size=2, stride=2)
        self.body = nn.Sequential(blocks)
        head = OrderedDict()
        for i, (a, b) in enumerate([(400, 120), (120, 84)]):
            head[f"fc{i}"] = nn.Linear(a, b)
            head[f"relu{i}"] = nn.ReLU()
            if dropout:
                head[f"drop{i}"] = nn.Dropout(p=dropout)
        head["logits"] = nn.Linear(84, num_classes)
        self.head = nn.Sequential(head)

    def forward(self, x):
        x = self.body(x)
        return self.head(x.view(x.size(0), -1))


class CifarNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1024, 1000), nn.ReLU(), nn.Linear(1000, num_classes))

    def forward(self, x):
        return self.net(x)


class ParamMatchedMLP(nn.Module):
    def __init__(self, n_params, in_features=784, num_classes=10, depth=2):
        super().__init__()

        def count(w):
            return (in_features + 1) * w + (depth - 1) * (w + 1) * w + (w + 1) * num_classes

        w = 1
        while count(w + 1) <= n_params:
            w += 1
        if abs(count(w + 1) - n_params) < abs(count(w) - n_params):
            w += 1
        layers, n_in = [], in_features
        for _ in range(depth):
            layers += [nn.Linear(n_in, w), nn.ReLU()]
            n_in = w
        self.mlp = nn.Sequential(nn.Flatten(), *layers, nn.Linear(w, num_classes))

    def forward(self, x):
        return self.mlp(x)


def count_parameters(model):
    return sum(p.numel() for p in filter(lambda p: p.requires_grad, model.parameters()))


def make_optimizer(model, lr, momentum=0.0, weight_decay=0.0):
    return torch.optim.SGD([{"params": list(model.parameters())}], lr=lr, momentum=momentum,
                           weight_decay=weight_decay)


def train_epoch(model, loader, optimizer, device):
    model.train()
    criterion = nn.CrossEntropyLoss()
    loss_sum, hits, count = 0.0, 0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        logits = model(images)
        loss = criterion(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += float(loss) * len(labels)
        hits += (logits.argmax(-1) == labels).sum().item()
        count += len(labels)
    return loss_sum / count, hits / count


def evaluate(model, loader, device):
    model.eval()
    criterion = nn.CrossEntropyLoss()
    loss_sum, hits, count = 0.0, 0, 0
    with torch.inference_mode():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            loss_sum += criterion(logits, labels).item() * len(labels)
            hits += (logits.argmax(-1) == labels).sum().item()
            count += len(labels)
    return loss_sum / count, hits / count


def fit(model, train_loader, val_loader, epochs, optimizer, device, scheduler=None):
    model.to(device)
    history = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    for epoch in range(epochs):
        tl, ta = train_epoch(model, train_loader, optimizer, device)
        vl, va = evaluate(model, val_loader, device)
        history["train_loss"].append(tl)
        history["train_acc"].append(ta)
        history["val_loss"].append(vl)
        history["val_acc"].append(va)
        if scheduler is not None:
            scheduler.step()
    return history


def normalization_stats(train_images):
    mean = train_images.mean(dim=[0, 2, 3])
    var = ((train_images - mean[None, :, None, None]) ** 2).mean(dim=[0, 2, 3])
    return mean, var.sqrt()
