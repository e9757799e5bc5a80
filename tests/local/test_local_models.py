"""The bundled classifiers: the iris data shipped with local mode, the numpy logistic regression
fitted at start-up (it reaches the penalised optimum, or says it did not), and its agreement with
scikit-learn's ``LogisticRegression`` where scikit-learn is installed."""

from __future__ import annotations

import csv
import json
from collections import Counter

import numpy as np
import pytest

from mlgw_local import logistic
from mlgw_local.models import IRIS_CSV, BinaryClassifier, IrisClassifier

SAMPLE_LABELS = ["setosa", "virginica", "versicolor", "setosa"]


def _iris() -> tuple[np.ndarray, np.ndarray, list[str]]:
    with IRIS_CSV.open(newline="") as file:
        _, *records = list(csv.reader(file))
    labels = list(dict.fromkeys(record[-1] for record in records))
    rows = np.asarray([[float(v) for v in record[:-1]] for record in records])
    return rows, np.asarray([labels.index(record[-1]) for record in records]), labels


def _binary_data(model: BinaryClassifier) -> tuple[np.ndarray, np.ndarray]:
    """The scaled rows and targets ``BinaryClassifier`` trains on, regenerated from its seed."""
    rng = np.random.default_rng(model.seed)
    count = len(model.features)
    scale = np.round(10 ** rng.uniform(0, 2.5, size=count), 1)
    data = rng.gamma(2.0, size=(model.rows, count)) * scale / 2
    weights = rng.normal(size=count)
    logits = ((data / scale) - 1.0) @ weights + rng.normal(scale=0.5, size=model.rows)
    return data / scale, (logits > 0).astype(int)


def _gradient(model: logistic.LogisticRegression, rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The gradient of sum(log-loss) + 0.5 * ||W||^2 (C = 1) in the weights and intercepts."""
    residual = model.predict_proba(rows) - np.eye(model.coef.shape[0])[targets]
    return np.hstack([residual.T @ rows + model.coef, residual.sum(axis=0)[:, None]])


def _iris_answer(model: IrisClassifier, rows: list[list[float]]) -> list[dict[str, object]]:
    body = json.dumps({"instances": rows}).encode()
    return json.loads(model.invoke(body, "application/json", "application/json")[0])["predictions"]


def test_iris_data_is_fishers_150_flowers_with_the_uci_errors_corrected() -> None:
    rows, targets, labels = _iris()

    assert rows.shape == (150, 4)
    assert labels == ["setosa", "versicolor", "virginica"]
    assert Counter(targets.tolist()) == {0: 50, 1: 50, 2: 50}
    # UCI's file has 4.9,3.1,1.5,0.1 for both; Fisher's paper has these.
    assert rows[34].tolist() == [4.9, 3.1, 1.5, 0.2]
    assert rows[37].tolist() == [4.9, 3.6, 1.4, 0.1]


def test_iris_classifier_labels_its_samples_and_fits_its_training_data() -> None:
    model = IrisClassifier()
    rows, targets, _ = _iris()

    answers = _iris_answer(model, [list(row) for row in model.samples.rows])
    probabilities = model.model.predict_proba(rows)

    assert model.features == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert [answer["label"] for answer in answers] == SAMPLE_LABELS
    assert all(0.9 < answer["probability"] <= 1 for answer in answers)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert (probabilities.argmax(axis=1) == targets).mean() >= 0.95


def test_the_fits_reach_the_penalised_optimum() -> None:
    rows, targets, _ = _iris()
    iris = IrisClassifier().model
    binary = BinaryClassifier()
    binary_rows, binary_targets = _binary_data(binary)
    binary_gradient = _gradient(binary.model, binary_rows, binary_targets)

    assert np.abs(_gradient(iris, rows, targets)).max() < 1e-5
    # The binary form has one free row (class 1); class 0's logit is zero.
    assert not binary.model.coef[0].any()
    assert binary.model.intercept[0] == 0
    assert np.abs(binary_gradient[1]).max() < 1e-5


def test_a_fit_that_runs_out_of_iterations_raises() -> None:
    rows, targets, _ = _iris()

    with pytest.raises(logistic.NotConverged, match="did not converge in 2 Newton steps"):
        logistic.fit(rows, targets, classes=3, max_iter=2)


def test_binary_classifier_scores_any_row_of_its_features() -> None:
    model = BinaryClassifier(features=("a", "b", "c", "d", "e", "f", "g"))

    answer, content_type = model.invoke(model.samples.csv(4).encode(), "text/csv", "text/csv")
    scores = [float(line) for line in answer.decode().splitlines()]

    assert content_type == "text/csv"
    assert len(scores) == 4
    assert all(0 < score < 1 for score in scores)


def test_the_iris_answers_are_the_ones_scikit_learn_gave() -> None:
    # Until local mode fitted its own model, the iris container was scikit-learn 1.9.1's
    # LogisticRegression() with its defaults (L2, C=1, lbfgs) on the same 150 rows; these are
    # the answers it gave for the samples. The penalised optimum (the test above) gives them too.
    iris = IrisClassifier()

    answers = _iris_answer(iris, [list(row) for row in iris.samples.rows])

    assert answers == [
        {"label": "setosa", "probability": 0.9816},
        {"label": "virginica", "probability": 0.9199},
        {"label": "versicolor", "probability": 0.9351},
        {"label": "setosa", "probability": 0.9688},
    ]
