"""Reference solution of the `backprop` assignment: a one-hidden-layer network with tanh and
softmax, first with forward and backward by hand on PyTorch tensors, then with `torch.nn` and
`torch.optim`, trained on the Circles data set (seed 001, part 2-ab).

Shapes: N examples, nx inputs, nh hidden units, ny classes. Weights are (out, in), as in nn.Linear.
"""
import torch
from torch import nn


def init_params(nx, nh, ny, generator=None):
    """Entries from N(0, 0.3^2), drawn with `generator`: Wh (nh, nx), bh (nh,), Wy (ny, nh), by (ny,)."""
    def normal(*shape):
        return torch.randn(*shape, generator=generator) * 0.3

    return {"Wh": normal(nh, nx), "bh": normal(nh), "Wy": normal(ny, nh), "by": normal(ny)}


def forward(params, X):
    """X: (N, nx) -> yhat (N, ny) and the intermediate values backward needs."""
    htilde = X @ params["Wh"].T + params["bh"]
    h = torch.tanh(htilde)
    ytilde = h @ params["Wy"].T + params["by"]
    yhat = torch.softmax(ytilde, dim=1)
    return yhat, {"X": X, "htilde": htilde, "h": h, "ytilde": ytilde, "yhat": yhat}


def loss_accuracy(yhat, Y):
    """yhat, Y: (N, ny), Y one-hot -> (mean cross-entropy as a 0-d tensor, accuracy as a float)."""
    L = -(Y * torch.log(yhat.clamp_min(1e-12))).sum(dim=1).mean()
    acc = (yhat.argmax(dim=1) == Y.argmax(dim=1)).float().mean().item()
    return L, acc


def backward(params, outputs, Y):
    """Gradients of the mean cross-entropy w.r.t. every parameter, by hand (no autograd)."""
    N = Y.shape[0]
    delta_y = (outputs["yhat"] - Y) / N                       # (N, ny)
    grad_Wy = delta_y.T @ outputs["h"]                        # (ny, nh)
    grad_by = delta_y.sum(dim=0)                              # (ny,)
    delta_h = (delta_y @ params["Wy"]) * (1 - outputs["h"] ** 2)  # (N, nh)
    grad_Wh = delta_h.T @ outputs["X"]                        # (nh, nx)
    grad_bh = delta_h.sum(dim=0)                              # (nh,)
    return {"Wh": grad_Wh, "bh": grad_bh, "Wy": grad_Wy, "by": grad_by}


def sgd(params, grads, eta):
    """One gradient step; returns new tensors and leaves `grads` untouched."""
    return {name: params[name] - eta * grads[name] for name in params}


class MLP(nn.Module):
    """The same network as an nn.Module; returns logits (nn.CrossEntropyLoss applies the softmax)."""

    def __init__(self, nx, nh, ny):
        super().__init__()
        self.hidden = nn.Linear(nx, nh)
        self.output = nn.Linear(nh, ny)

    def forward(self, x):
        return self.output(torch.tanh(self.hidden(x)))


def train_circles(X, Y, epochs, eta, batch_size, nh=10, generator=None):
    """X: (N, 2) float tensor, Y: (N, 2) one-hot. Minibatch SGD on MLP(2, nh, 2); returns the model."""
    if generator is not None:
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    model = MLP(X.shape[1], nh, Y.shape[1])
    optimizer = torch.optim.SGD(model.parameters(), lr=eta)
    loss_fn = nn.CrossEntropyLoss()
    labels = Y.argmax(dim=1)
    for _ in range(epochs):
        order = torch.randperm(X.shape[0], generator=generator)
        for start in range(0, X.shape[0], batch_size):
            index = order[start:start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(X[index]), labels[index]).backward()
            optimizer.step()
    return model
