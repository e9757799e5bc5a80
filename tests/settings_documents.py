"""The settings documents the module renders with its defaults, one per function.

Unit tests build each function's `MLGW_SETTINGS` from these, and the Terraform tests check
that the root module renders exactly these fields and defaults, so the two cannot drift.
"""

from __future__ import annotations

import copy
import json
from typing import Any

# api.predict with its defaults; models and default_endpoint_name come from the root's inputs.
PREDICT: dict[str, Any] = {
    "models": None,
    "models_parameter": None,
    "default_endpoint_name": None,
    "model_call": {"connect_timeout_seconds": 2, "read_timeout_seconds": 8, "max_attempts": 2},
    "retry_after_seconds": 1,
    "log_request_bodies": False,
}

# actuals_reporting with its defaults, for bucket "actuals-bucket" and no endpoint.
ACTUALS: dict[str, Any] = {
    "bucket": "actuals-bucket",
    "prefix": "upload_actuals/",
    "processed_prefix": "upload_actuals-processed/",
    "failed_prefix": "upload_actuals-failed/",
    "state_prefix": "upload_actuals-state/",
    "on_success": "delete",
    "bad_rows": "reject",
    "sinks": ["datarobot"],
    "api_url": "https://app.datarobot.com",
    "report_rows": 10000,
    "deployment_id_pattern": "[0-9a-f]{24}",
    "bad_rows_in_report": 100,
    "max_in_flight": 8,
    "spool_limit_mb": 256,
    "http": {
        "connect_timeout_seconds": 5,
        "read_timeout_seconds": 60,
        "max_retries": 6,
        "backoff_base_seconds": 0.5,
        "backoff_max_seconds": 30,
    },
    "status_poll": {"interval_seconds": 1, "max_interval_seconds": 10},
    "time_margin_seconds": 20,
    "max_attempts": 3,
    "ground_truth_bucket": "actuals-bucket",
    "ground_truth_prefix": "upload_actuals-ground-truth/",
    "ground_truth_endpoint": None,
    "max_idle_handoffs": 3,
    "pacing": {"actuals_per_hour": 10_000_000, "window_seconds": 3600},
    "dataset_path": {"enabled": True, "min_bytes": 536870912, "fetch": "url", "url_expiry_seconds": 3600},
}

# batch_prediction with its defaults; route is the models route model_route names, rendered.
BATCH: dict[str, Any] = {
    "bucket": "batch-bucket",
    "input_prefix": "batch/in/",
    "output_prefix": "batch/out/",
    "error_prefix": "batch/errors/",
    "staging_prefix": "batch/staging/",
    "model_route": "default",
    "route": None,
    "csv_header": True,
    "feature_columns": [],
    "id_column": None,
    "prediction_columns": ["prediction"],
    "batch_size": 5000,
    "concurrency": 4,
    "max_record_bytes": 1048576,
    "batch_retry": {"attempts": 6, "backoff_base_seconds": 0.5, "backoff_max_seconds": 20},
    "isolation_calls": 100,
    "part_size_mb": 5,
    "stream_bytes_per_second": 1000000,
    "model_call": {"connect_timeout_seconds": 2, "read_timeout_seconds": 70, "max_attempts": 3},
    # The worst case of one default model call (229 s) + 30 s to finish the file.
    "time_margin_seconds": 259,
    "transform": None,
}
# batch_prediction.transform with its defaults, for a root named "churn".
TRANSFORM: dict[str, Any] = {
    "model_name": None,
    "min_bytes": 536870912,
    "instance_type": "ml.m5.xlarge",
    "instance_count": 1,
    "max_payload_mb": 6,
    "job_name_prefix": "churn-batch",
    "kms_key_id": None,
}


def document(defaults: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """`defaults` with some fields replaced; a dict given for a section that is a dict by
    default is merged into it, so a test names only the fields it is about."""
    result = copy.deepcopy(defaults)
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key].update(value)
        else:
            result[key] = value
    return result


def environment(defaults: dict[str, Any], **fields: Any) -> dict[str, str]:
    """The environment the module gives a function: its document and the metrics namespace."""
    return {
        "MLGW_SETTINGS": json.dumps(document(defaults, **fields)),
        "POWERTOOLS_METRICS_NAMESPACE": "MlGateway",
    }
