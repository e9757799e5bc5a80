"""The ``batch`` and ``actuals`` commands: drop a file into a running local mode and show the outcome."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError


def _s3(state: dict[str, Any]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=state["urls"]["s3"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
    )


def upload_batch(state: dict[str, Any], file: Path, timeout: float) -> int:
    batch = state["batch"]
    if not batch:
        print("the example has no batch prediction")
        return 1
    s3 = _s3(state)
    name = file.name if file.name.endswith(batch["suffix"]) else f"{file.name}{batch['suffix']}"
    output = f"{batch['output_prefix']}{name}"
    report = f"{batch['error_prefix']}{name}.report.json"
    for stale in (output, report):
        s3.delete_object(Bucket=batch["bucket"], Key=stale)
    s3.upload_file(str(file), batch["bucket"], f"{batch['input_prefix']}{name}")
    print(f"uploaded s3://{batch['bucket']}/{batch['input_prefix']}{name}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = s3.get_object(Bucket=batch["bucket"], Key=output)["Body"].read().decode()
        except ClientError:
            time.sleep(0.3)
            continue
        print(f"s3://{batch['bucket']}/{output}:\n{body}", end="")
        return 0
    print(f"no output at s3://{batch['bucket']}/{output} after {timeout:.0f} s; see {report}")
    return 1


def upload_actuals(state: dict[str, Any], file: Path, deployment: str, timeout: float) -> int:
    actuals = state["actuals"]
    if not actuals:
        print("the example has no actuals reporting")
        return 1
    key = f"{actuals['prefix']}{deployment}/{file.name}"
    rows = sum(1 for line in file.read_text(encoding="utf-8").splitlines()[1:] if line.strip())
    received_url = f"{state['urls']['mlops']}/received/{deployment}"
    with urllib.request.urlopen(received_url) as answer:  # noqa: S310 - the local receiver
        before = len(json.load(answer)["data"])
    _s3(state).upload_file(str(file), actuals["bucket"], key)
    print(f"uploaded s3://{actuals['bucket']}/{key} ({rows} rows)")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(received_url) as answer:  # noqa: S310
            data = json.load(answer)["data"]
        if len(data) - before >= rows:
            print(json.dumps({"deploymentId": deployment, "data": data[before:]}, indent=2))
            return 0
        time.sleep(0.3)
    print(f"the receiver got {len(data) - before} of {rows} rows within {timeout:.0f} s")
    return 1
