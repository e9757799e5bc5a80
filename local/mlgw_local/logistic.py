"""L2-penalised logistic regression in numpy, fitted by Newton's method, for the bundled models.

The objective is the one scikit-learn's ``LogisticRegression`` minimises by default (``C=1.0``, L2
penalty on the weights, none on the intercepts): the sum of the rows' log-losses plus
``0.5 * ||W||^2 / C``. Its minimum is unique in the weights, so the fitted model predicts what
scikit-learn's does, without the dependency (and its start-up cost) in local mode.

Both forms are a softmax over per-class logits ``X @ W[k] + b[k]``; they differ in which logits
are free:

- multinomial (three or more classes): every class has weights and an intercept. Shifting all
  intercepts by one constant changes nothing, so the last intercept is held at zero, which makes
  the problem strictly convex without changing the predictions;
- binary: class 0's logit is held at zero and class 1 has ``w`` and ``b``, so the probability of
  class 1 is ``sigmoid(X @ w + b)`` and only ``w`` is penalised, as scikit-learn does.

Newton steps with a backtracking line search converge in a handful of iterations on problems
this small (a few features, a few thousand rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class NotConverged(RuntimeError):
    """The fit stopped at its iteration bound with the gradient still above the tolerance."""


@dataclass(frozen=True)
class LogisticRegression:
    """A fitted model: ``coef`` is (classes, features) and ``intercept`` (classes,), with the
    logits of held-at-zero entries included as zeros."""

    coef: np.ndarray
    intercept: np.ndarray

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        return _softmax(np.asarray(rows, dtype=float) @ self.coef.T + self.intercept)


def fit(
    rows: np.ndarray,
    targets: np.ndarray,
    classes: int,
    *,
    c: float = 1.0,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> LogisticRegression:
    """Fit ``targets`` (class indices 0..classes-1) on ``rows``; binary when ``classes`` is 2.

    Stops when the largest gradient entry, per row, is at most ``tol``; raises ``NotConverged``
    when ``max_iter`` Newton steps do not get there.
    """
    x = np.hstack([np.asarray(rows, dtype=float), np.ones((len(rows), 1))])
    onehot = np.eye(classes)[np.asarray(targets, dtype=int)]
    count, width = x.shape
    free = np.ones((classes, width), dtype=bool)
    if classes == 2:
        free[0] = False
    else:
        free[-1, -1] = False
    penalty = np.zeros((classes, width))
    penalty[:, :-1] = 1.0 / c
    free_flat, penalty_flat = free.ravel(), penalty.ravel()[free.ravel()]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        logits = x @ theta.T
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1))
        loss = float((log_norm - (shifted * onehot).sum(axis=1)).sum())
        return loss + 0.5 * float((penalty * theta**2).sum()), _softmax(logits)

    theta = np.zeros((classes, width))
    value, probabilities = objective(theta)
    for iteration in range(max_iter + 1):
        gradient = ((probabilities - onehot).T @ x + penalty * theta).ravel()[free_flat]
        if np.abs(gradient).max() <= tol * count:
            return LogisticRegression(theta[:, :-1].copy(), theta[:, -1].copy())
        if iteration == max_iter:
            break
        hessian = _hessian(x, probabilities)[np.ix_(free_flat, free_flat)] + np.diag(penalty_flat)
        step = np.zeros(classes * width)
        step[free_flat] = -np.linalg.solve(hessian, gradient)
        step = step.reshape(classes, width)
        slope = float(gradient @ step.ravel()[free_flat])
        scale = 1.0
        while scale > 1e-10:
            trial_value, trial_probabilities = objective(theta + scale * step)
            if trial_value <= value + 1e-4 * scale * slope:
                break
            scale /= 2
        else:
            break
        theta = theta + scale * step
        value, probabilities = trial_value, trial_probabilities
    raise NotConverged(
        f"logistic regression did not converge in {max_iter} Newton steps "
        f"(largest gradient entry {np.abs(gradient).max():.3g}, tolerance {tol * count:.3g})"
    )


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _hessian(x: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """The log-loss Hessian over the flattened (class, column) parameters: for each pair of
    classes a and b, ``X.T @ diag(p_a * (δ_ab - p_b)) @ X``."""
    classes, width = probabilities.shape[1], x.shape[1]
    blocks = np.empty((classes, width, classes, width))
    for a in range(classes):
        for b in range(a, classes):
            weight = probabilities[:, a] * ((a == b) - probabilities[:, b])
            blocks[a, :, b, :] = blocks[b, :, a, :] = (x * weight[:, None]).T @ x
    return blocks.reshape(classes * width, classes * width)
