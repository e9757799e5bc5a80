"""The suite's shared botocore loader cache (tests/conftest.py): a boto3 session that moto's
mock_aws starts for a test reads no service model from disk that an earlier session read."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore import loaders
from moto import mock_aws


def test_a_new_session_reads_no_service_model_an_earlier_one_read(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():
        boto3.client("sqs", region_name="us-east-1")  # whatever an earlier test left, sqs is read now
    reads: list[str] = []
    original = loaders.JSONFileLoader.load_file

    def counting(self: loaders.JSONFileLoader, file_path: str) -> Any:
        reads.append(file_path)
        return original(self, file_path)

    monkeypatch.setattr(loaders.JSONFileLoader, "load_file", counting)
    with mock_aws():
        first = boto3.client("sqs", region_name="us-east-1")
        first_session = boto3.DEFAULT_SESSION
    with mock_aws():
        second = boto3.client("sqs", region_name="us-east-1")
        second_session = boto3.DEFAULT_SESSION
    assert first is not second
    # each mock_aws started a session of its own, whose loader found the model already read
    assert first_session is not None
    assert first_session is not second_session
    assert first.meta.service_model.service_name == second.meta.service_model.service_name == "sqs"
    assert not [path for path in reads if "/sqs/" in path], reads
