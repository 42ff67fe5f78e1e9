"""A correct backprop solution in another style: torch.normal draws, a hand-written stable softmax,
einsum gradients, an in-place sgd on the parameters, nn.Sequential, and a DataLoader."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def init_params(nx, nh, ny, generator=None):
    params = {}
    for name, shape in (("Wh", (nh, nx)), ("bh", (nh,)), ("Wy", (ny, nh)), ("by", (ny,))):
        params[name] = torch.normal(0.0, 0.3, size=shape, generator=generator)
    return params


def forward(params, X):
    htilde = torch.einsum("ni,hi->nh", X, params["Wh"]) + params["bh"]
    h = torch.tanh(htilde)
    ytilde = torch.einsum("nh,yh->ny", h, params["Wy"]) + params["by"]
    z = ytilde - ytilde.max(dim=1, keepdim=True).values
    yhat = z.exp() / z.exp().sum(dim=1, keepdim=True)
    return yhat, dict(X=X, htilde=htilde, h=h, ytilde=ytilde, yhat=yhat)


def loss_accuracy(yhat, Y):
    L = torch.mean(-torch.sum(Y * torch.log(yhat), dim=1))
    acc = float((torch.argmax(yhat, 1) == torch.argmax(Y, 1)).sum()) / len(Y)
    return L, acc


def backward(params, outputs, Y):
    d_ytilde = (outputs["yhat"] - Y) / Y.shape[0]
    d_htilde = torch.einsum("ny,yh->nh", d_ytilde, params["Wy"]) * (1 - torch.tanh(outputs["htilde"]) ** 2)
    return {"Wy": torch.einsum("ny,nh->yh", d_ytilde, outputs["h"]), "by": d_ytilde.sum(0),
            "Wh": torch.einsum("nh,ni->hi", d_htilde, outputs["X"]), "bh": d_htilde.sum(0)}


def sgd(params, grads, eta):
    for name in params:
        params[name] -= eta * grads[name]
    return params


class MLP(nn.Module):
    def __init__(self, nx, nh, ny):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(nx, nh), nn.Tanh(), nn.Linear(nh, ny))

    def forward(self, x):
        return self.layers(x)


def train_circles(X, Y, epochs, eta, batch_size, nh=10, generator=None):
    model = MLP(2, nh, 2)
    opt = torch.optim.SGD(model.parameters(), lr=eta)
    loader = DataLoader(TensorDataset(X, Y.argmax(1)), batch_size=batch_size, shuffle=True, generator=generator)
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    return model
