"""A wrong cost delta: QuadraticCost.delta forgets sigma'(z) (the rest is correct)."""
import math

import numpy as np


def _sig(v):
    return 1.0 / (1.0 + math.exp(-v))


class QuadraticCost:
    @staticmethod
    def fn(a, y):
        return 0.5 * sum((float(a[i, 0]) - float(y[i, 0])) ** 2 for i in range(len(a)))

    @staticmethod
    def delta(z, a, y):
        return np.array([[a[i, 0] - y[i, 0]] for i in range(len(a))])  # BUG: sigma'(z) missing


class CrossEntropyCost:
    @staticmethod
    def fn(a, y):
        total = 0.0
        for i in range(len(a)):
            total += -y[i, 0] * math.log(a[i, 0]) - (1 - y[i, 0]) * math.log(1 - a[i, 0])
        return total

    @staticmethod
    def delta(z, a, y):
        return np.array([[a[i, 0] - y[i, 0]] for i in range(len(a))])


class Network:
    def __init__(self, sizes, cost=QuadraticCost):
        self.sizes = list(sizes)
        self.cost = cost
        self.weights = [np.zeros((m, n)) for n, m in zip(sizes[:-1], sizes[1:])]
        self.biases = [np.zeros((m, 1)) for m in sizes[1:]]

    def _layers(self, x):
        acts, zs = [[float(v) for v in x[:, 0]]], []
        for W, b in zip(self.weights, self.biases):
            z = [sum(W[j][i] * acts[-1][i] for i in range(len(acts[-1]))) + b[j][0] for j in range(len(W))]
            zs.append(z)
            acts.append([_sig(v) for v in z])
        return acts, zs

    def feedforward(self, a):
        acts, _ = self._layers(a)
        return [[v] for v in acts[-1]]

    def backprop(self, x, y):
        acts, zs = self._layers(x)
        col = lambda v: np.array([[t] for t in v])
        delta = [row[0] for row in self.cost.delta(col(zs[-1]), col(acts[-1]), y)]
        L = len(self.weights)
        nabla_b, nabla_w = [None] * L, [None] * L
        for l in range(L - 1, -1, -1):
            nabla_b[l] = col(delta)
            nabla_w[l] = np.array([[delta[j] * acts[l][i] for i in range(len(acts[l]))] for j in range(len(delta))])
            if l > 0:
                W = self.weights[l]
                delta = [sum(W[j][i] * delta[j] for j in range(len(delta))) * _sig(zs[l - 1][i]) *
                         (1 - _sig(zs[l - 1][i])) for i in range(len(acts[l]))]
        return nabla_b, nabla_w
