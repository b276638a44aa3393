"""Pipeline configuration: one YAML file names the data, the run directory and each stage.

Paths may use environment variables (`${MEDSUM_DATA_DIR}/mts-dialog/train.csv`); when
`MEDSUM_DATA_DIR` is unset it points at `../shared/data` beside the project checkout.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medsum.models import DEFAULT_BASE_MODEL
from medsum.records import ColumnMapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """Raised for a missing, malformed or inconsistent configuration file."""


def data_dir() -> Path:
    configured = os.environ.get("MEDSUM_DATA_DIR")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "data"


@dataclass
class DataSpec:
    """One input split: where it comes from and how many rows to keep."""

    source: str = "synthetic"
    path: str | None = None
    limit: int | None = None
    offset: int = 0
    synthetic_count: int = 60
    columns: dict[str, str | None] | None = None
    # Training text must pass through `medsum deidentify`. A hospital whose data was
    # de-identified elsewhere sets this to true, which the run manifest records.
    already_deidentified: bool = False

    def resolved_path(self) -> Path | None:
        if self.path is None:
            return None
        os.environ.setdefault("MEDSUM_DATA_DIR", str(data_dir()))
        return Path(os.path.expandvars(self.path)).expanduser()

    def mapping(self) -> ColumnMapping | None:
        return ColumnMapping(**self.columns) if self.columns else None  # type: ignore[arg-type]


@dataclass
class PipelineConfig:
    """The whole pipeline; stage sections hold that stage's options."""

    run_dir: str = "runs/default"
    seed: int = 0
    base_model: str = DEFAULT_BASE_MODEL
    train_data: DataSpec = field(default_factory=DataSpec)
    eval_data: DataSpec = field(default_factory=lambda: DataSpec(synthetic_count=8))
    deidentify: dict[str, Any] = field(default_factory=dict)
    pretrain: dict[str, Any] = field(default_factory=dict)
    finetune: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, Any] = field(default_factory=dict)
    pretrain_enabled: bool = True
    # A hospital's own tasks: name -> instruction, usable in a `task` column and by the service.
    tasks: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SECTIONS = set(PipelineConfig.__dataclass_fields__)
# Options each stage section accepts; training sections are checked by train.TrainConfig.
STAGE_OPTIONS = {
    "deidentify": {"threshold", "spacy_model", "entities", "policy"},
    "evaluate": {
        "max_new_tokens", "batch_size", "no_repeat_ngram_size", "repetition_penalty",
        "max_source_tokens",
    },
}  # fmt: skip
COLUMN_NAMES = {"id", "text", "summary", "patient_id", "section", "task"}


def _data_spec(value: Any, name: str) -> DataSpec:
    if value is None:
        return DataSpec()
    if not isinstance(value, dict):
        raise ConfigError(
            f"{name} must be a mapping with source/path/limit, got {type(value).__name__}"
        )
    unknown = sorted(set(value) - set(DataSpec.__dataclass_fields__))
    if unknown:
        raise ConfigError(
            f"{name}: unknown key(s) {unknown}; valid keys: {sorted(DataSpec.__dataclass_fields__)}"
        )
    columns = value.get("columns")
    if columns is not None:
        if not isinstance(columns, dict):
            raise ConfigError(f"{name}.columns must map record fields to column names")
        unknown_columns = sorted(set(columns) - COLUMN_NAMES)
        if unknown_columns:
            raise ConfigError(
                f"{name}.columns: unknown field(s) {unknown_columns}; "
                f"valid fields: {sorted(COLUMN_NAMES)}"
            )
    if value.get("already_deidentified") and name != "train_data":
        raise ConfigError(
            f"{name}: already_deidentified applies to train_data only; evaluation data is "
            "de-identified by medsum so that outputs can be re-identified for scoring"
        )
    return DataSpec(**value)


def load_config(path: Path | None) -> PipelineConfig:
    """Read a pipeline YAML file; `None` gives the embedded default (synthetic corpus)."""
    if path is None:
        return PipelineConfig()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory; pass the path of a YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; pass a YAML file") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must contain a YAML mapping at the top level")
    unknown = sorted(set(raw) - SECTIONS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {unknown}; valid sections: {sorted(SECTIONS)}"
        )
    values = dict(raw)
    if values.get("tasks") is not None:
        if not isinstance(values["tasks"], dict):
            raise ConfigError(f"{path}: tasks must map task names to instruction sentences")
        from medsum.prompts import register_tasks

        try:
            register_tasks(values["tasks"])
        except ValueError as error:
            raise ConfigError(f"{path}: {error}") from None
    else:
        values["tasks"] = {}
    values["train_data"] = _data_spec(values.get("train_data"), "train_data")
    values["eval_data"] = _data_spec(values.get("eval_data", {"synthetic_count": 8}), "eval_data")
    for section in ("deidentify", "pretrain", "finetune", "evaluate"):
        if values.get(section) is None:
            values[section] = {}
        elif not isinstance(values[section], dict):
            raise ConfigError(f"{path}: section {section!r} must be a mapping")
        allowed = STAGE_OPTIONS.get(section)
        unknown_options = sorted(set(values[section]) - allowed) if allowed else []
        if unknown_options:
            raise ConfigError(
                f"{path}: unknown option(s) {unknown_options} in {section!r}; "
                f"valid options: {sorted(allowed or ())}"
            )
    policy = values["deidentify"].get("policy")
    if policy is not None and not (isinstance(policy, str) and policy.strip()):
        # The file itself is read and validated by deidentify.policy when the stage runs.
        received = "an empty string" if isinstance(policy, str) else f"a {type(policy).__name__}"
        raise ConfigError(
            f"{path}: deidentify.policy must be the path of a policy YAML file such as "
            f"configs/deid-policy.yaml, got {received}"
        )
    return PipelineConfig(**values)
