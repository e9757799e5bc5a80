"""Long-lived model clients and the time budget they run under.

Built once per Lambda container (module scope of a handler) so connections and loaded service
models are reused across invocations. Every client gets explicit connect and read timeouts and
an explicit attempt count, because the callers sit behind hard deadlines: API Gateway gives up
after 29 seconds whatever the Lambda is still doing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
import urllib3
from botocore.config import Config

from mlgw.backends.amazon_ml import AmazonMLBackend
from mlgw.backends.base import Backend
from mlgw.backends.http import HttpBackend, retry_policy
from mlgw.backends.sagemaker import SageMakerBackend
from mlgw.routing import Route

# botocore's standard retry mode sleeps at most min(2 ** i, 20) seconds before retry i + 1.
_MAX_BACKOFF = 20.0


@dataclass(frozen=True)
class CallBudget:
    connect_timeout: float
    read_timeout: float
    max_attempts: int

    def worst_case_seconds(self) -> float:
        """Longest a call can take before it fails: every attempt times out in full and every
        backoff sleeps its maximum."""
        backoff = sum(min(2.0**retry, _MAX_BACKOFF) for retry in range(self.max_attempts - 1))
        return self.max_attempts * (self.connect_timeout + self.read_timeout) + backoff

    def botocore_config(self, max_pool_connections: int = 10) -> Config:
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            max_pool_connections=max_pool_connections,
        )


@dataclass(frozen=True)
class ModelClients:
    """Clients for every backend kind. The Amazon ML client is made on first use: few routes
    use the legacy service, and creating a client costs cold-start time."""

    sagemaker_runtime: Any
    machine_learning_factory: Callable[[], Any]
    http_pool: urllib3.PoolManager
    budget: CallBudget
    retry_after: int

    @cached_property
    def machine_learning(self) -> Any:
        return self.machine_learning_factory()

    @cached_property
    def http_timeout(self) -> urllib3.Timeout:
        return urllib3.Timeout(connect=self.budget.connect_timeout, read=self.budget.read_timeout)

    @cached_property
    def http_retries(self) -> urllib3.Retry:
        return retry_policy(self.budget.max_attempts)

    def backend_for(self, route: Route) -> Backend:
        if route.backend == "amazon-ml":
            return AmazonMLBackend(self.machine_learning, route, retry_after=self.retry_after)
        if route.backend == "http":
            return HttpBackend(
                self.http_pool,
                route,
                timeout=self.http_timeout,
                retries=self.http_retries,
                retry_after=self.retry_after,
            )
        return SageMakerBackend(self.sagemaker_runtime, route, retry_after=self.retry_after)


def build_model_clients(
    budget: CallBudget,
    *,
    retry_after: int,
    sagemaker_runtime_endpoint_url: str | None = None,
    max_connections: int = 10,
) -> ModelClients:
    """`sagemaker_runtime_endpoint_url` points the runtime client at any server that speaks the
    SageMaker runtime API, which is how local mode runs the same code without AWS.
    `max_connections` sizes the connection pools for callers that call from many threads at once
    (the batch pipeline), so no connection is opened and thrown away per call."""
    config = budget.botocore_config(max_connections)
    return ModelClients(
        sagemaker_runtime=boto3.client(
            "sagemaker-runtime", config=config, endpoint_url=sagemaker_runtime_endpoint_url
        ),
        machine_learning_factory=lambda: boto3.client("machinelearning", config=config),
        http_pool=urllib3.PoolManager(maxsize=max_connections),
        budget=budget,
        retry_after=retry_after,
    )
