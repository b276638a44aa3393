"""The GPU check script reports a missing GPU as a failed check instead of passing."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).parent.parent / "scripts" / "gpu_check.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the report written without a GPU")
def test_gpu_check_fails_without_cuda(tmp_path: Path) -> None:
    output = tmp_path / "gpu.json"
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--output", str(output)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 1
    report = json.loads(output.read_text())
    assert report["environment"]["cuda"] is False
    for method in ("lora", "qlora"):
        assert report["checks"][method]["passed"] is False
        assert "no CUDA device" in report["checks"][method]["error"]
