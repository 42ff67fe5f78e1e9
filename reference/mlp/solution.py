"""Reference solution of the `mlp` assignment: a multilayer perceptron in NumPy.

The instructor's complete answer to `student_template/mlp/solution.py`. The grader
uses it as its float64 oracle, so every method is vectorised and numerically careful.
Shapes: N examples, d[l] units in layer l, C = d[L] classes.
"""
import numpy as np

BEST_CONFIG = dict(hidden_dims=(512, 256), activation="relu", lr=0.1, batch_size=64, n_epochs=3)


class NN:
    def __init__(self, hidden_dims=(500, 400), input_dim=784, n_classes=10,
                 activation="relu", init_method="glorot", lr=0.1, batch_size=64,
                 seed=None, epsilon=1e-8):
        self.hidden_dims = hidden_dims
        self.input_dim = input_dim
        self.n_classes = n_classes
        self.activation_str = activation
        self.init_method = init_method
        self.lr = lr
        self.batch_size = batch_size
        self.seed = seed
        self.epsilon = epsilon
        self.rng = np.random.default_rng(seed)
        self.n_hidden = len(hidden_dims)
        self.weights = {}
        self.initialize_weights([input_dim, *hidden_dims, n_classes])

    def initialize_weights(self, dims):
        """dims: [d0, d1, ..., dL]. Fills self.weights with W{l} (d[l-1], d[l]) and b{l} (1, d[l])."""
        self.weights = {}
        for l in range(1, len(dims)):
            fan_in, fan_out = dims[l - 1], dims[l]
            if self.init_method == "zero":
                W = np.zeros((fan_in, fan_out))
            elif self.init_method == "normal":
                W = self.rng.standard_normal((fan_in, fan_out))
            elif self.init_method == "glorot":
                d = np.sqrt(6.0 / (fan_in + fan_out))
                W = self.rng.uniform(-d, d, size=(fan_in, fan_out))
            else:
                raise ValueError(f"unknown init_method {self.init_method!r}")
            self.weights[f"W{l}"] = W
            self.weights[f"b{l}"] = np.zeros((1, fan_out))

    def relu(self, x, grad=False):
        """x: any shape -> max(x, 0), or its derivative 1[x > 0] when grad=True."""
        if grad:
            return (x > 0).astype(float)
        return np.maximum(x, 0)

    def sigmoid(self, x, grad=False):
        """x: any shape -> 1 / (1 + exp(-x)), or s (1 - s) when grad=True; stable for large |x|."""
        s = np.exp(-np.logaddexp(0.0, -x))
        if grad:
            return s * (1 - s)
        return s

    def tanh(self, x, grad=False):
        """x: any shape -> tanh(x), or 1 - tanh(x)^2 when grad=True."""
        t = np.tanh(x)
        if grad:
            return 1 - t ** 2
        return t

    def activation(self, x, grad=False):
        """Dispatches on self.activation_str."""
        if self.activation_str == "relu":
            return self.relu(x, grad)
        if self.activation_str == "sigmoid":
            return self.sigmoid(x, grad)
        if self.activation_str == "tanh":
            return self.tanh(x, grad)
        raise ValueError(f"unknown activation {self.activation_str!r}")

    def softmax(self, x):
        """x: (N, C) -> (N, C) with rows summing to 1; also (C,) -> (C,). Max-subtracted."""
        z = x - np.max(x, axis=-1, keepdims=True)
        e = np.exp(z)
        return e / np.sum(e, axis=-1, keepdims=True)

    def forward(self, x):
        """x: (N, d0) -> cache {"Z0": x, "A{l}": (N, d[l]), "Z{l}": (N, d[l])}; Z{L} are probabilities."""
        cache = {"Z0": x}
        L = self.n_hidden + 1
        for l in range(1, L + 1):
            A = cache[f"Z{l - 1}"] @ self.weights[f"W{l}"] + self.weights[f"b{l}"]
            cache[f"A{l}"] = A
            cache[f"Z{l}"] = self.activation(A) if l < L else self.softmax(A)
        return cache

    def backward(self, cache, labels):
        """cache: from forward; labels: (N, C) one-hot -> {"dW{l}", "db{l}", "dA{l}"} of the mean loss."""
        L = self.n_hidden + 1
        n = labels.shape[0]
        grads = {}
        dA = (cache[f"Z{L}"] - labels) / n
        for l in range(L, 0, -1):
            grads[f"dA{l}"] = dA
            grads[f"dW{l}"] = cache[f"Z{l - 1}"].T @ dA
            grads[f"db{l}"] = np.sum(dA, axis=0, keepdims=True)
            if l > 1:
                dZ = dA @ self.weights[f"W{l}"].T
                dA = dZ * self.activation(cache[f"A{l - 1}"], grad=True)
        return grads

    def update(self, grads):
        """Plain SGD in place: W{l} -= lr dW{l}, b{l} -= lr db{l}."""
        for l in range(1, self.n_hidden + 2):
            self.weights[f"W{l}"] -= self.lr * grads[f"dW{l}"]
            self.weights[f"b{l}"] -= self.lr * grads[f"db{l}"]

    def loss(self, prediction, labels):
        """prediction: (N, C) probabilities; labels: (N, C) one-hot -> mean cross-entropy (float)."""
        p = np.clip(prediction, self.epsilon, 1 - self.epsilon)
        return float(-np.sum(labels * np.log(p)) / prediction.shape[0])

    def numerical_gradient(self, x, labels, param="W2", p=10, eps=1e-5):
        """Central differences of the loss w.r.t. the first p entries of weights[param].ravel() -> (p,)."""
        L = self.n_hidden + 1
        original = self.weights[param]
        grad = np.zeros(p)
        for i in range(p):
            for sign in (1, -1):
                w = original.copy()
                w.flat[i] += sign * eps
                self.weights[param] = w
                value = self.loss(self.forward(x)[f"Z{L}"], labels)
                grad[i] += sign * value
            grad[i] /= 2 * eps
        self.weights[param] = original
        return grad

    def count_parameters(self):
        """Total number of entries of every W{l} and b{l}."""
        return int(sum(w.size for w in self.weights.values()))

    def _one_hot(self, y):
        """y: (N,) integer labels -> (N, C) one-hot."""
        out = np.zeros((y.shape[0], self.n_classes))
        out[np.arange(y.shape[0]), y] = 1
        return out

    def _evaluate(self, X, y):
        """X: (N, d0), y: (N,) -> (mean loss, accuracy), in batches to bound memory."""
        L = self.n_hidden + 1
        total_loss, correct = 0.0, 0
        for start in range(0, X.shape[0], 1000):
            xb, yb = X[start:start + 1000], y[start:start + 1000]
            probs = self.forward(xb)[f"Z{L}"]
            total_loss += self.loss(probs, self._one_hot(yb)) * xb.shape[0]
            correct += int(np.sum(np.argmax(probs, axis=1) == yb))
        return total_loss / X.shape[0], correct / X.shape[0]

    def train(self, X_train, y_train, n_epochs, X_val=None, y_val=None):
        """X_train: (N, d0), y_train: (N,) integer labels -> per-epoch history lists."""
        history = {"train_loss": [], "train_acc": []}
        if X_val is not None:
            history["val_loss"], history["val_acc"] = [], []
        n = X_train.shape[0]
        for _ in range(n_epochs):
            order = self.rng.permutation(n)
            for start in range(0, n, self.batch_size):
                idx = order[start:start + self.batch_size]
                cache = self.forward(X_train[idx])
                self.update(self.backward(cache, self._one_hot(y_train[idx])))
            loss, acc = self._evaluate(X_train, y_train)
            history["train_loss"].append(loss)
            history["train_acc"].append(acc)
            if X_val is not None:
                loss, acc = self._evaluate(X_val, y_val)
                history["val_loss"].append(loss)
                history["val_acc"].append(acc)
        return history

    def predict(self, X):
        """X: (N, d0) -> (N,) integer class labels."""
        L = self.n_hidden + 1
        return np.concatenate([np.argmax(self.forward(X[s:s + 1000])[f"Z{L}"], axis=1)
                               for s in range(0, X.shape[0], 1000)]) if X.shape[0] else np.zeros(0, int)
