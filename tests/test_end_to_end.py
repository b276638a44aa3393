"""The real CLI on a tiny budget: the packaged model, Presidio, SQLite and uvicorn over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

TINY_CONFIG = """
run_dir: {run_dir}
seed: 1
train_data: {{source: synthetic, synthetic_count: 12}}
eval_data: {{source: synthetic, synthetic_count: 3}}
pretrain: {{max_steps: 2, max_seq_len: 64, batch_size: 2, grad_accum: 1, log_every: 1}}
finetune: {{max_steps: 2, max_seq_len: 384, batch_size: 2, grad_accum: 1, log_every: 1}}
evaluate: {{max_new_tokens: 12, batch_size: 3}}
"""
NOTE = (
    "Doctor: Hello, I'm Doctor Abernathy. Who do I have here?\n"
    "Patient: It's Marguerite Vasconcellos-Lund, MRN 7730182. I have had a dry cough for two "
    "weeks.\n"
    "Doctor: Any fever? We last saw you on 05/02/2024.\n"
    "Patient: No fever. My number is (503) 555-0187."
)
IDENTIFIERS = ["Abernathy", "Marguerite", "Vasconcellos", "7730182", "05/02/2024", "555-0187"]


def medsum(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medsum", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_pipeline_then_serve(tmp_path: Path, key_dir: Path) -> None:
    env = {**os.environ, "MEDSUM_KEY_DIR": str(key_dir)}
    run_dir = tmp_path / "run"
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_CONFIG.format(run_dir=run_dir))

    result = medsum("pipeline", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert set(manifest["stages"]) == {"deidentify", "pretrain", "finetune", "evaluate"}
    assert all(stage["exit_code"] == 0 for stage in manifest["stages"].values())
    assert manifest["libraries"]["transformers"] == "5.25.0"
    assert len(manifest["inputs"]["train"]["sha256"]) == 64
    metrics = json.loads((run_dir / "evaluate" / "metrics.json").read_text())
    assert set(metrics["variants"]) == {"lead_60_words", "base_zero_shot", "finetuned"}
    assert metrics["rouge_settings"]["use_stemmer"] is False
    pretrain = json.loads((run_dir / "pretrain" / "metrics.json").read_text())
    assert pretrain["perplexity_before"] > 1
    assert (run_dir / "finetune" / "adapter" / "adapter_model.safetensors").is_file()

    # A second run finds every stage finished and does nothing.
    again = medsum("pipeline", "--config", str(config), env=env)
    assert again.returncode == 0
    assert "already finished" in again.stderr

    database = f"sqlite:///{tmp_path / 'service.db'}"
    created = medsum(
        "tokens", "create", "--name", "e2e", "--role", "clinician", "--database", database, env=env
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    auditor = medsum(
        "tokens", "create", "--name", "aud", "--role", "auditor", "--database", database, env=env
    )
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [
                sys.executable, "-m", "medsum", "serve", "--port", str(port),
                "--database", database,
                "--adapter", str(run_dir / "pretrain" / "adapter"),
                "--adapter", str(run_dir / "finetune" / "adapter"), "--max-new-tokens", "16",
            ],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(1)
        else:
            pytest.fail("server did not become healthy: " + log_path.read_text()[-2000:])

        response = httpx.post(
            f"{base}/v1/summaries",
            json={"text": NOTE, "patient_id": "e2e-patient", "task": "section", "section": "GENHX"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        assert response.json()["adapter_id"] == "pretrain+finetune"
        denied = httpx.post(
            f"{base}/v1/summaries", content=b"{", headers={"Authorization": f"Bearer {token}"}
        )
        assert denied.status_code == 422
        records = httpx.get(
            f"{base}/v1/audit", headers={"Authorization": f"Bearer {auditor.stdout.strip()}"}
        ).json()["records"]
        assert [r["outcome"] for r in records[:2]] == ["rejected_invalid", "ok"]
    finally:
        server.terminate()
        server.wait(timeout=30)

    verified = medsum("audit", "verify", "--database", database, env=env)
    assert verified.returncode == 0
    assert json.loads(verified.stdout)["valid"] is True
    server_log = log_path.read_text()
    assert "POST /v1/summaries -> 200" in server_log
    for value in IDENTIFIERS:
        assert value not in server_log, "identifier in the server log"
        assert value not in result.stderr, "identifier in the pipeline log"
