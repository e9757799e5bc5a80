"""The bundled models, trained at start-up: an iris classifier and a ratings recommender."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


class InputError(ValueError):
    """The request cannot be scored; a container answers it with 400."""


class Model(Protocol):
    name: str

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """Score a request body; returns the answer and its content type."""


def _media(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"body is not JSON: {exc}") from None


@dataclass
class IrisClassifier:
    """Logistic regression on scikit-learn's iris data: four measurements in cm, a species out.

    JSON takes one record or ``{"instances": [...]}``, each a list of four numbers or an object
    whose values are the four numbers in dataset order; CSV takes one record per line.
    """

    name: str = "iris"

    def __post_init__(self) -> None:
        data = load_iris()
        self.features = [f.removesuffix(" (cm)").replace(" ", "_") for f in data.feature_names]
        self.labels = [str(label) for label in data.target_names]
        self.model = LogisticRegression(max_iter=1000).fit(data.data, data.target)

    def _row(self, record: Any) -> list[float]:
        if isinstance(record, dict):
            record = (
                [record[f] for f in self.features]
                if set(self.features) <= set(record)
                else list(record.values())
            )
        if not isinstance(record, list) or len(record) != len(self.features):
            raise InputError(f"each record needs {len(self.features)} values: {', '.join(self.features)}")
        try:
            return [float(value) for value in record]
        except (TypeError, ValueError):
            raise InputError("feature values must be numbers") from None

    def _rows(self, body: bytes, content_type: str) -> list[list[float]]:
        if _media(content_type) == "text/csv":
            lines = [row for row in csv.reader(io.StringIO(body.decode("utf-8", "replace"))) if row]
            return [self._row(list(row)) for row in lines]
        document = _json(body)
        if isinstance(document, dict) and "instances" in document:
            records = document["instances"]
        elif isinstance(document, list) and document and isinstance(document[0], (list, dict)):
            records = document
        else:
            records = [document]
        if not isinstance(records, list):
            raise InputError("instances must be a list")
        return [self._row(record) for record in records]

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        rows = self._rows(body, content_type)
        if not rows:
            raise InputError("no records to score")
        probabilities = self.model.predict_proba(np.asarray(rows))
        best = probabilities.argmax(axis=1)
        if _media(accept) == "text/csv":
            return "".join(f"{self.labels[i]}\n" for i in best).encode(), "text/csv"
        predictions = [
            {"label": self.labels[i], "probability": round(float(p[i]), 4)}
            for i, p in zip(best, probabilities, strict=True)
        ]
        return json.dumps({"predictions": predictions}).encode(), "application/json"


@dataclass
class RatingsRecommender:
    """Matrix factorisation by alternating least squares on generated ratings.

    Users and items have hidden tastes; a sparse sample of their 1-5 ratings is what the model
    learns from, and it rates any (user, item) pair of the catalogue. Requests use object2vec's
    JSON instances: ``{"instances": [{"in0": [user], "in1": [item]}, ...]}`` answers
    ``{"predictions": [{"scores": [rating]}, ...]}``.
    """

    name: str = "ratings"
    users: int = 1000
    items: int = 500
    factors: int = 8
    seed: int = 7

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        taste_u = rng.normal(size=(self.users, 3))
        taste_i = rng.normal(size=(self.items, 3))
        truth = np.clip(
            3.0 + taste_u @ taste_i.T * 0.6 + rng.normal(scale=0.3, size=(self.users, self.items)), 1, 5
        )
        observed = rng.random((self.users, self.items)) < 0.05
        self.mean = float(truth[observed].mean())
        self.user_factors, self.item_factors = self._als(truth - self.mean, observed, rng)

    def _als(
        self,
        residual: np.ndarray,
        observed: np.ndarray,
        rng: np.random.Generator,
        rounds: int = 8,
        reg: float = 0.5,
    ) -> tuple[np.ndarray, np.ndarray]:
        users = rng.normal(scale=0.1, size=(self.users, self.factors))
        items = rng.normal(scale=0.1, size=(self.items, self.factors))
        eye = reg * np.eye(self.factors)
        for _ in range(rounds):
            for u in range(self.users):
                seen = observed[u]
                v = items[seen]
                users[u] = np.linalg.solve(v.T @ v + eye, v.T @ residual[u, seen])
            for i in range(self.items):
                seen = observed[:, i]
                w = users[seen]
                items[i] = np.linalg.solve(w.T @ w + eye, w.T @ residual[seen, i])
        return users, items

    def _id(self, value: Any, limit: int, what: str) -> int:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{what} must be a one-element list holding an integer id")
        if not 0 <= value < limit:
            raise InputError(f"{what} {value} is not in the catalogue (0 to {limit - 1})")
        return value

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        if _media(content_type) != "application/json":
            raise InputError("the ratings model reads application/json")
        document = _json(body)
        instances = document.get("instances") if isinstance(document, dict) else None
        if not isinstance(instances, list):
            raise InputError('body must be {"instances": [{"in0": [user], "in1": [item]}, ...]}')
        scores: list[dict[str, Sequence[float]]] = []
        for instance in instances:
            if not isinstance(instance, dict):
                raise InputError("each instance must be an object with in0 and in1")
            user = self._id(instance.get("in0"), self.users, "in0 (user)")
            item = self._id(instance.get("in1"), self.items, "in1 (item)")
            rating = self.mean + float(self.user_factors[user] @ self.item_factors[item])
            scores.append({"scores": [round(min(5.0, max(1.0, rating)), 4)]})
        return json.dumps({"predictions": scores}).encode(), "application/json"


def bundled_models() -> dict[str, Model]:
    models: list[Model] = [IrisClassifier(), RatingsRecommender()]
    return {model.name: model for model in models}
