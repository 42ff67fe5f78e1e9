"""Assignment `mlp`: a multilayer perceptron from scratch in NumPy.

Implement every method below. Use NumPy only: importing torch, tensorflow, jax or an
autodiff library costs the items that say so. Shapes: N examples, d[l] units in layer l,
C = d[L] classes. Check your work with `grader check solution.py --assignment mlp`.
"""
import numpy as np

# Your chosen hyperparameters for the accuracy gate: between 0.5 M and 1 M parameters,
# n_epochs at most 10. The grader trains NN(**BEST_CONFIG minus n_epochs, init_method="glorot",
# seed=0) with your train() on the Fashion-MNIST training split and checks predict() on its own
# held-out validation split.
BEST_CONFIG = dict(hidden_dims=(None, None), activation="relu", lr=None, batch_size=None, n_epochs=None)


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
        self.weights = {}
        self.initialize_weights([input_dim, *hidden_dims, n_classes])

    def initialize_weights(self, dims):
        """dims: [d0, d1, ..., dL]. Fill self.weights with "W{l}" of shape (d[l-1], d[l]) and
        "b{l}" of shape (1, d[l]) for l = 1..L. Biases are zero; weights follow self.init_method:
        "zero" (all zeros), "normal" (N(0, 1)), "glorot" (U(-d, d), d = sqrt(6 / (d[l-1] + d[l]))).
        Draw from self.rng."""
        raise NotImplementedError

    def relu(self, x, grad=False):
        """x: any shape -> max(x, 0), or its derivative when grad=True (same shape)."""
        raise NotImplementedError

    def sigmoid(self, x, grad=False):
        """x: any shape -> 1 / (1 + exp(-x)), or its derivative when grad=True (same shape)."""
        raise NotImplementedError

    def tanh(self, x, grad=False):
        """x: any shape -> tanh(x), or its derivative when grad=True (same shape)."""
        raise NotImplementedError

    def activation(self, x, grad=False):
        """Dispatch to relu, sigmoid or tanh according to self.activation_str."""
        raise NotImplementedError

    def softmax(self, x):
        """x: (N, C) -> (N, C), each row summing to 1; also (C,) -> (C,).
        Must not overflow or give NaN for entries up to +-1e3."""
        raise NotImplementedError

    def forward(self, x):
        """x: (N, d0) -> cache dict: "Z0" = x; for l = 1..L: "A{l}" = Z{l-1} @ W{l} + b{l} (N, d[l]),
        "Z{l}" = activation(A{l}) for l < L and softmax(A{L}) for l = L."""
        raise NotImplementedError

    def backward(self, cache, labels):
        """cache: from forward; labels: (N, C) one-hot -> dict with "dW{l}" and "db{l}" for l = 1..L,
        the gradients of the mean loss, with the shapes of W{l} and b{l}. May hold other keys."""
        raise NotImplementedError

    def update(self, grads):
        """Plain SGD in place: W{l} -= lr * dW{l}, b{l} -= lr * db{l}."""
        raise NotImplementedError

    def loss(self, prediction, labels):
        """prediction: (N, C) probabilities, labels: (N, C) one-hot -> mean cross-entropy (float).
        Clip the probabilities to [epsilon, 1 - epsilon] first."""
        raise NotImplementedError

    def numerical_gradient(self, x, labels, param="W2", p=10, eps=1e-5):
        """x: (N, d0), labels: (N, C) one-hot -> (p,): central finite differences of
        loss(forward(x)["Z{L}"], labels) w.r.t. the first p entries of weights[param].ravel().
        Leave the weights as they were."""
        raise NotImplementedError

    def count_parameters(self):
        """Total number of weights and biases (int)."""
        raise NotImplementedError

    def train(self, X_train, y_train, n_epochs, X_val=None, y_val=None):
        """X_train: (N, d0), y_train: (N,) integer labels. Minibatch SGD over data shuffled with
        self.rng, batch size self.batch_size. Returns per-epoch lists "train_loss", "train_acc", and
        "val_loss", "val_acc" when validation data is given."""
        raise NotImplementedError

    def predict(self, X):
        """X: (N, d0) -> (N,) integer class labels."""
        raise NotImplementedError
