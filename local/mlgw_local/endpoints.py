"""Which bundled model stands in for each SageMaker endpoint the plan names.

Decided per endpoint from what the plan says about it, in this order:

1. ``--endpoint NAME=MODEL`` on the command line (a bundled model or a container URL);
2. the container image of an endpoint the plan creates (``IMAGE_MODELS``): SageMaker's XGBoost
   image serves the binary classifier, with the features the plan's routes and batch settings
   name for that endpoint;
3. a route that sends the module's ratings mapping template to the endpoint: the recommender;
4. anything else: the iris classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgw_local.models import BinaryClassifier, IrisClassifier, Model, RatingsRecommender
from mlgw_local.plan import Gateway, PlanError

RATINGS_TEMPLATE = (
    Path(__file__).resolve().parents[2] / "modules" / "rest-api" / "templates" / "ratings_request.vtl"
)
# Repository name of a container image (the part after the registry, before the tag) -> the bundled
# model standing in for it. The complete example documents its XGBoost model as binary:logistic.
IMAGE_MODELS = {"sagemaker-xgboost": "binary"}
BUNDLED = ("iris", "ratings", "binary")


@dataclass(frozen=True)
class Choice:
    """The model of one endpoint: ``container`` names the container that serves it (a bundled
    model's key) or is a URL given on the command line."""

    endpoint: str
    container: str
    reason: str

    @property
    def is_url(self) -> bool:
        return self.container.startswith(("http://", "https://"))


def _repository(image: str) -> str:
    path = image.split("@", 1)[0].split("/", 1)[-1]
    return path.rsplit(":", 1)[0] if ":" in path else path


def _routes_of(gateway: Gateway) -> list[dict[str, Any]]:
    """Every model route the functions' settings hold, with its endpoint filled in."""
    routes = []
    for function in gateway.functions.values():
        settings = function.settings
        default = settings.get("default_endpoint_name")
        candidates = list((settings.get("models") or {}).values())
        if settings.get("route"):
            # The batch function's route; its feature_columns name the features when the route does not.
            route = dict(settings["route"])
            route["feature_names"] = route.get("feature_names") or settings.get("feature_columns") or None
            candidates.append(route)
        for route in candidates:
            endpoint = route.get("endpoint_name") or default
            if endpoint:
                routes.append({**route, "endpoint_name": endpoint})
    return routes


def endpoint_features(gateway: Gateway, endpoint: str) -> tuple[str, ...] | None:
    """The feature columns the plan names for an endpoint (a route's feature_names, or the batch
    settings' feature_columns), if any."""
    for route in _routes_of(gateway):
        if route["endpoint_name"] == endpoint and route.get("feature_names"):
            return tuple(route["feature_names"])
    return None


def choose(gateway: Gateway, overrides: list[str]) -> dict[str, Choice]:
    """The model of every endpoint the plan names."""
    ratings_template = RATINGS_TEMPLATE.read_text(encoding="utf-8")
    ratings = {
        op.integration.endpoint_name
        for op in (gateway.api.operations if gateway.api else [])
        if op.integration.endpoint_name and ratings_template in op.integration.request_templates.values()
    }
    choices: dict[str, Choice] = {}
    for name in sorted(gateway.endpoint_names() | set(gateway.endpoint_images)):
        images = gateway.endpoint_images.get(name, ())
        by_image = {IMAGE_MODELS[_repository(i)] for i in images if _repository(i) in IMAGE_MODELS}
        if len(by_image) == 1:
            image = images[0].rsplit("/", 1)[-1]
            choices[name] = Choice(name, next(iter(by_image)), f"the plan's image {image}")
        elif name in ratings:
            choices[name] = Choice(name, "ratings", "a route sends it the ratings mapping")
        else:
            choices[name] = Choice(name, "iris", "no image or mapping names another model")
    for item in overrides:
        name, _, model = item.partition("=")
        if model not in BUNDLED and not model.startswith(("http://", "https://")):
            raise PlanError(f"--endpoint {item}: the model must be one of {', '.join(BUNDLED)} or a URL")
        choices[name] = Choice(name, model.rstrip("/"), "--endpoint")
    return choices


def containers(gateway: Gateway, choices: dict[str, Choice], trained: dict[str, Model]) -> dict[str, Model]:
    """The bundled containers the choices need, keyed as ``Choice.container`` names them; a binary
    classifier is trained for each distinct feature list, and its choices renamed to match."""
    needed: dict[str, Model] = {}
    binary: dict[tuple[str, ...], str] = {}
    for name, choice in sorted(choices.items()):
        if choice.is_url:
            continue
        if choice.container == "binary":
            features = endpoint_features(gateway, name) or BinaryClassifier.features
            key = binary.get(features)
            if key is None:
                key = binary[features] = "binary" if not binary else f"binary-{len(binary) + 1}"
                needed[key] = BinaryClassifier(features=features)
            choices[name] = Choice(name, key, choice.reason)
        else:
            needed[choice.container] = trained.get(choice.container) or _train(choice.container)
    return needed


def _train(name: str) -> Model:
    return IrisClassifier() if name == "iris" else RatingsRecommender()
