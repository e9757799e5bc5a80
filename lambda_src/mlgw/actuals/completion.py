"""The last step for an actuals file: remove or archive it after success, quarantine it after failure."""

from __future__ import annotations

from typing import Any

from mlgw.actuals.settings import ActualsSettings
from mlgw.pipeline import objects
from mlgw.pipeline.objects import InputFile


def failed_key(settings: ActualsSettings, relative_key: str) -> str:
    return settings.failed_prefix + relative_key


def processed_key(settings: ActualsSettings, relative_key: str) -> str:
    return settings.processed_prefix + relative_key


def report_key(object_key: str) -> str:
    return object_key + ".report.json"


def quarantine(
    s3: Any, settings: ActualsSettings, source: InputFile, report: dict[str, Any], log: Any
) -> str:
    """Move the input to the failed prefix with its report beside it; returns the new key."""
    destination = failed_key(settings, source.relative_key)
    objects.quarantine(
        s3, source, destination, {**report, "failedKey": destination}, report_key(destination), log=log
    )
    return destination


def finish_success(s3: Any, settings: ActualsSettings, source: InputFile, log: Any) -> str | None:
    """Delete or archive the input (a newer version uploaded meanwhile stays); returns the archive
    key when there is one."""
    if settings.on_success == "archive":
        destination = processed_key(settings, source.relative_key)
        objects.move(s3, source, destination, log)
        return destination
    objects.delete_if_unchanged(s3, source, log)
    return None
