"""Local S3 and Secrets Manager (moto's server, in-process) and the bucket notifications.

Buckets and secrets of the plan are created at start. Every object that appears, or changes,
under a notification's prefix and suffix invokes the notification's function with the event S3
would send, one object per event, in the order they were seen.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import boto3
from moto.server import ThreadedMotoServer

from mlgw_local.plan import Bucket, Trigger

log = logging.getLogger("mlgw_local")
POLL_SECONDS = 0.25


class LocalAws:
    """moto's server on one port: S3 and Secrets Manager (any other service moto serves too)."""

    def __init__(self, host: str, port: int) -> None:
        self.server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.url = f"http://{host}:{port}"

    def start(self) -> None:
        self.server.start()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106
        )

    def create(self, buckets: list[Bucket], secrets: dict[str, str]) -> dict[str, str]:
        """Create the buckets and secrets; returns each secret's ARN by name."""
        s3 = self.client("s3")
        for bucket in buckets:
            s3.create_bucket(Bucket=bucket.name)
            if bucket.versioned:
                s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
        manager = self.client("secretsmanager")
        return {
            name: manager.create_secret(Name=name, SecretString=value)["ARN"]
            for name, value in secrets.items()
        }

    def stop(self) -> None:
        self.server.stop()


def s3_event(trigger: Trigger, obj: dict[str, Any], sequence: int) -> dict[str, Any]:
    """The notification S3 sends for one created object (keys URL-encoded as S3 does)."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "key": quote_plus(obj["Key"], safe="/"),
        "size": obj["Size"],
        "eTag": obj["ETag"].strip('"'),
        "sequencer": f"{sequence:018X}",
    }
    if obj.get("VersionId") and obj["VersionId"] != "null":
        body["versionId"] = obj["VersionId"]
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:LOCAL"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": f"{sequence:016X}", "x-amz-id-2": "local"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": trigger.id,
                    "bucket": {
                        "name": trigger.bucket,
                        "ownerIdentity": {"principalId": "LOCAL"},
                        "arn": f"arn:aws:s3:::{trigger.bucket}",
                    },
                    "object": body,
                },
            }
        ]
    }


class Notifications:
    """Watches the notifications' prefixes and delivers events, one queue per function."""

    def __init__(
        self, aws: LocalAws, triggers: list[Trigger], invoke: Callable[[str, dict[str, Any]], None]
    ) -> None:
        self._s3 = aws.client("s3")
        self._triggers = triggers
        self._invoke = invoke
        self._seen: dict[tuple[str, str], tuple[str, str]] = {}
        self._queues: dict[str, queue.Queue[dict[str, Any] | None]] = {
            t.function_name: queue.Queue() for t in triggers
        }
        self._stop = threading.Event()
        self._sequence = 0
        self._threads = [threading.Thread(target=self._poll, name="s3-notifications", daemon=True)]
        self._threads += [
            threading.Thread(target=self._deliver, args=(name,), name=f"events-{name}", daemon=True)
            for name in self._queues
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for events in self._queues.values():
            events.put(None)

    def _objects(self, trigger: Trigger) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        paginator = self._s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=trigger.bucket, Prefix=trigger.prefix):
            found += [
                v for v in page.get("Versions", []) if v["IsLatest"] and v["Key"].endswith(trigger.suffix)
            ]
        return found

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            for trigger in self._triggers:
                try:
                    objects = self._objects(trigger)
                except Exception as exc:  # moto stopping, or a transient error: next round
                    log.debug("listing %s failed: %s", trigger.bucket, exc)
                    continue
                current = {(trigger.bucket, o["Key"]): o for o in objects}
                for (bucket, key), obj in current.items():
                    version = (obj["ETag"], str(obj.get("VersionId")))
                    if self._seen.get((bucket, key)) != version:
                        self._seen[(bucket, key)] = version
                        self._sequence += 1
                        self._queues[trigger.function_name].put(s3_event(trigger, obj, self._sequence))
                for gone in [
                    k
                    for k in self._seen
                    if k[0] == trigger.bucket
                    and k[1].startswith(trigger.prefix)
                    and k[1].endswith(trigger.suffix)
                    and k not in current
                ]:
                    del self._seen[gone]

    def _deliver(self, function_name: str) -> None:
        events = self._queues[function_name]
        while (event := events.get()) is not None:
            key = event["Records"][0]["s3"]["object"]["key"]
            started = time.monotonic()
            try:
                self._invoke(function_name, event)
                log.info(
                    "%s handled s3 event for %s in %.2fs", function_name, key, time.monotonic() - started
                )
            except Exception as exc:
                log.warning("%s failed on %s: %s", function_name, key, exc)
