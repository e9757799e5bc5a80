"""The bundled models, trained at start-up: an iris classifier, a ratings recommender and a binary
classifier over the features an endpoint's routes name.

Each model also says what fits it (``Samples``): feature rows, the actual values its predictions
are judged against, and parameter values, so the banner, the sample files and the tests send
requests the model can score.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mlgw_local import logistic

IRIS_CSV = Path(__file__).with_name("data") / "iris.csv"


class InputError(ValueError):
    """The request cannot be scored; a container answers it with 400."""


@dataclass(frozen=True)
class Samples:
    """Requests a model can score: ``rows`` of ``features`` (CSV lines, JSON records), the
    ``actual_values`` an outcome of its predictions takes, values for named request ``parameters``
    (a ``data`` query, a path's ``user_id``), a JSON body in the model's own format, and the
    ``content_types`` the model reads."""

    content_types: tuple[str, ...]
    features: tuple[str, ...]
    rows: tuple[tuple[float, ...], ...]
    actual_values: tuple[str, ...]
    parameters: dict[str, str]
    json_body: Any

    def csv(self, count: int = 2) -> str:
        return "".join(",".join(_number(v) for v in row) + "\n" for row in self.rows[:count])


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class Model(Protocol):
    name: str

    @property
    def samples(self) -> Samples:
        """What fits the model."""

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
    """Logistic regression on Fisher's iris data (``data/iris.csv``): four measurements in cm, a
    species out.

    JSON takes one record or ``{"instances": [...]}``, each a list of four numbers or an object
    whose values are the four numbers in dataset order; CSV takes one record per line.
    """

    name: str = "iris"

    def __post_init__(self) -> None:
        with IRIS_CSV.open(newline="") as file:
            header, *records = list(csv.reader(file))
        self.features = header[:-1]
        self.labels = list(dict.fromkeys(record[-1] for record in records))
        rows = np.asarray([[float(value) for value in record[:-1]] for record in records])
        targets = np.asarray([self.labels.index(record[-1]) for record in records])
        self.model = logistic.fit(rows, targets, classes=len(self.labels))

    @property
    def samples(self) -> Samples:
        rows = ((5.1, 3.5, 1.4, 0.2), (6.7, 3.0, 5.2, 2.3), (6.2, 2.9, 4.3, 1.3), (4.9, 3.1, 1.5, 0.1))
        return Samples(
            content_types=("application/json", "text/csv"),
            features=tuple(self.features),
            rows=rows,
            actual_values=tuple(self.labels),
            parameters={"data": ",".join(map(str, rows[0]))},
            json_body={"instances": [list(row) for row in rows[:2]]},
        )

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

    @property
    def samples(self) -> Samples:
        return Samples(
            content_types=("application/json",),
            features=("in0", "in1"),
            rows=((321, 101), (321, 131), (321, 162)),
            actual_values=("1", "2", "3", "4", "5"),
            parameters={"user_id": "321", "items": "101,131,162"},
            json_body={"instances": [{"in0": [321], "in1": [101]}, {"in0": [321], "in1": [131]}]},
        )

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


@dataclass
class BinaryClassifier:
    """A stand-in for a binary:logistic model (SageMaker's XGBoost container): CSV rows of the
    endpoint's features in, one probability of the positive class per row out.

    The features are the ones the plan names for the endpoint's routes; the model learns a hidden
    linear rule on generated positive values, so any numbers of the right count score, and rows
    of another length get the container's 400.
    """

    features: tuple[str, ...] = ("feature_1", "feature_2", "feature_3", "feature_4")
    name: str = "binary"
    seed: int = 11
    rows: int = 2000
    _scale: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        count = len(self.features)
        self._scale = np.round(10 ** rng.uniform(0, 2.5, size=count), 1)
        data = rng.gamma(2.0, size=(self.rows, count)) * self._scale / 2
        weights = rng.normal(size=count)
        logits = ((data / self._scale) - 1.0) @ weights + rng.normal(scale=0.5, size=self.rows)
        self.model = logistic.fit(data / self._scale, (logits > 0).astype(int), classes=2)
        self._data = data

    @property
    def samples(self) -> Samples:
        rows = tuple(tuple(round(float(v), 1) for v in row) for row in self._data[:4])
        return Samples(
            content_types=("text/csv",),
            features=self.features,
            rows=rows,
            actual_values=("0", "1"),
            parameters={"data": ",".join(_number(v) for v in rows[0])},
            json_body=dict(zip(self.features, rows[0], strict=True)),
        )

    def _row(self, record: list[str]) -> list[float]:
        if len(record) != len(self.features):
            raise InputError(f"each record needs {len(self.features)} values: {', '.join(self.features)}")
        try:
            return [float(value) for value in record]
        except ValueError:
            raise InputError("feature values must be numbers") from None

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        if _media(content_type) != "text/csv":
            raise InputError(f"the binary classifier reads text/csv, not {_media(content_type)}")
        lines = [row for row in csv.reader(io.StringIO(body.decode("utf-8", "replace"))) if row]
        if not lines:
            raise InputError("no records to score")
        rows = np.asarray([self._row(row) for row in lines])
        probabilities = self.model.predict_proba(rows / self._scale)[:, 1]
        return "".join(f"{round(float(p), 4)}\n" for p in probabilities).encode(), "text/csv"
