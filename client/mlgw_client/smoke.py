"""Call every prediction route of a deployed stack once, from its `terraform output -json`.

Outputs read (see lambda_src/README.md, "## predict"):
- `invoke_url`: the stage URL (required);
- `model_routes`: route names, as a list or as a map whose values may carry a `sample` request
  body (a JSON string or object) and its `content_type`; without it, the route names of the
  `models_json` output, and without that only `default`;
- `api_key`: an API key value (sensitive output), unless one is given on the command line.

`--local` checks a running local mode instead: every route of its state file (mlgw_client.local)
with the sample request local mode wrote for it, and the status that sample should get.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import requests

from mlgw_client.api import DEFAULT_TIMEOUT, PredictClient, PredictError


@dataclass(frozen=True)
class RouteCheck:
    route: str
    body: str | None
    content_type: str


@dataclass(frozen=True)
class LocalCheck:
    """One route of a local mode and the request that fits it (None: local mode has none)."""

    route: str
    sample: dict[str, Any] | None = field(default=None)


@dataclass(frozen=True)
class Outcome:
    route: str
    passed: bool
    detail: str


def read_outputs(stream: TextIO) -> dict[str, Any]:
    """Values of `terraform output -json`, whose entries look like {"value": ..., "type": ...}."""
    document = json.load(stream)
    if not isinstance(document, dict):
        raise ValueError("terraform output -json must be a JSON object")
    return {
        name: entry["value"] if isinstance(entry, dict) and "value" in entry else entry
        for name, entry in document.items()
    }


def plan(outputs: Mapping[str, Any], fallback_body: str | None, fallback_type: str) -> list[RouteCheck]:
    routes = (
        outputs.get("model_routes") or sorted(json.loads(outputs.get("models_json") or "{}")) or ["default"]
    )
    if isinstance(routes, list):
        routes = {name: {} for name in routes}
    checks = []
    for name, raw in sorted(routes.items()):
        spec = raw if isinstance(raw, dict) else {}
        sample = spec.get("sample")
        if sample is None:
            checks.append(RouteCheck(name, fallback_body, fallback_type))
        else:
            text = sample if isinstance(sample, str) else json.dumps(sample)
            checks.append(RouteCheck(name, text, spec.get("content_type") or "application/json"))
    return checks


def run(client: PredictClient, checks: list[RouteCheck]) -> list[Outcome]:
    outcomes = []
    for check in checks:
        if check.body is None:
            outcomes.append(
                Outcome(check.route, False, "no sample body: add one to model_routes or pass --json")
            )
            continue
        model = None if check.route == "default" else check.route
        started = time.perf_counter()
        try:
            if check.content_type == "text/csv":
                answer = client.predict(csv=check.body, model=model)
            else:
                answer = client.predict(json.loads(check.body), model=model)
        except PredictError as exc:
            outcomes.append(Outcome(check.route, False, f"{exc} (requestId {exc.request_id})"))
            continue
        except requests.ConnectionError:
            raise  # no route can pass: the command says so once
        except (OSError, ValueError) as exc:
            outcomes.append(Outcome(check.route, False, f"{type(exc).__name__}: {exc}"))
            continue
        elapsed = (time.perf_counter() - started) * 1000
        outcomes.append(Outcome(check.route, True, f"{answer.status} in {elapsed:.0f} ms"))
    return outcomes


def report(outcomes: list[Outcome], out: TextIO) -> bool:
    for outcome in outcomes:
        out.write(f"{'PASS' if outcome.passed else 'FAIL'} {outcome.route}: {outcome.detail}\n")
    passed = sum(outcome.passed for outcome in outcomes)
    out.write(f"{passed}/{len(outcomes)} routes passed\n")
    return passed == len(outcomes)


def local_plan(state: Mapping[str, Any]) -> list[LocalCheck]:
    samples = {sample["route"]: sample for sample in state.get("samples") or []}
    return [LocalCheck(route, samples.get(route)) for route in state.get("routes") or []]


def run_local(
    state: Mapping[str, Any], checks: list[LocalCheck], api_key: str | None = None
) -> list[Outcome]:
    """Each route's sample sent as it is, with the local mode's first API key unless one is given."""
    key = api_key or next(iter((state.get("api_keys") or {}).values()), None)
    base = str(state["invoke_url"]).rstrip("/")
    session = requests.Session()
    outcomes = []
    for check in checks:
        sample = check.sample
        if sample is None:
            outcomes.append(Outcome(check.route, False, "local mode wrote no sample request for this route"))
            continue
        headers = {"x-api-key": key} if key else {}
        if sample.get("content_type"):
            headers["Content-Type"] = sample["content_type"]
        body = sample.get("body")
        started = time.perf_counter()
        try:
            response = session.request(
                sample["method"],
                base + sample["path"],
                params=sample.get("query") or None,
                data=body.encode("utf-8") if isinstance(body, str) else None,
                headers=headers,
                timeout=DEFAULT_TIMEOUT,
            )
        except requests.ConnectionError:
            raise  # no route can pass: the command says so once
        except requests.RequestException as exc:
            outcomes.append(Outcome(check.route, False, f"{type(exc).__name__}: {exc}"))
            continue
        elapsed = (time.perf_counter() - started) * 1000
        expected = int(sample.get("status") or 200)
        sent = f"{sample['method']} {sample['path']}"
        if response.status_code == expected:
            outcomes.append(Outcome(check.route, True, f"{sent}: {response.status_code} in {elapsed:.0f} ms"))
        else:
            outcomes.append(
                Outcome(
                    check.route,
                    False,
                    f"{sent}: {response.status_code}, expected {expected}: {response.text[:300].strip()}",
                )
            )
    return outcomes
