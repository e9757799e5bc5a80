"""The tracer, and with it the X-Ray SDK, is imported only when tracing is on (cold-start cost)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from predict_support import settings_env

LAMBDA_SRC = Path(__file__).resolve().parents[3] / "lambda_src"
PROBE = """
import json, sys
import mlgw.handlers.predict as handler
print(json.dumps({"xray": "aws_xray_sdk" in sys.modules, "tracer": hasattr(handler, "tracer")}))
"""


@pytest.mark.parametrize(("enabled", "expected"), [("false", False), ("true", True)])
def test_tracer_is_imported_only_when_tracing_is_on(enabled: str, expected: bool, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(LAMBDA_SRC),
        **settings_env(models={"default": {"endpoint_name": "e"}}),
        "TRACING_ENABLED": enabled,
        # Powertools skips tracing outside Lambda; this makes the probe look like Lambda.
        "LAMBDA_TASK_ROOT": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {"xray": expected, "tracer": expected}
