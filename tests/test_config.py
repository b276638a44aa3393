from pathlib import Path

import pytest

from medsum.config import ConfigError, load_config


def test_default_config_is_synthetic() -> None:
    config = load_config(None)
    assert config.train_data.source == "synthetic"
    assert config.eval_data.synthetic_count == 8


def test_environment_variable_in_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDSUM_DATA_DIR", "/data/clinical")
    path = tmp_path / "c.yaml"
    path.write_text("train_data:\n  source: csv\n  path: ${MEDSUM_DATA_DIR}/train.csv\n")
    assert str(load_config(path).train_data.resolved_path()) == "/data/clinical/train.csv"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("run_dir: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "mapping at the top level"),
        ("pretrian: {}\n", "unknown section"),
        ("train_data: {source: csv, file: x.csv}\n", "unknown key"),
        ("finetune: 3\n", "must be a mapping"),
        ("evaluate: {max_new_token: 5}\n", "unknown option"),
        ("deidentify: {treshold: 0.5}\n", "unknown option"),
        ("train_data: {source: csv, columns: {txt: body}}\n", "unknown field"),
    ],
    ids=[
        "bad-yaml",
        "list",
        "typo-section",
        "typo-key",
        "scalar-section",
        "typo-evaluate",
        "typo-deidentify",
        "typo-column",
    ],
)
def test_bad_config_rejected(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")


def test_shipped_config_loads() -> None:
    config = load_config(Path(__file__).parent.parent / "configs" / "mts-dialog.yaml")
    assert config.eval_data.limit == 100
    assert config.finetune["lora_r"] == 16


PIPELINE_CONFIGS = [
    path
    for path in sorted(Path(__file__).parent.parent.glob("configs/*.yaml"))
    if path.name != "deid-policy.yaml"  # a de-identification policy, not a pipeline
]


@pytest.mark.parametrize("path", PIPELINE_CONFIGS, ids=lambda path: path.name)
def test_shipped_configs_are_valid(path: Path) -> None:
    from train.config import TrainConfig

    config = load_config(path)
    TrainConfig.from_dict(config.pretrain)
    TrainConfig.from_dict(config.finetune)
    assert config.train_data.source != "synthetic"


def test_directory_or_binary_config_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    binary = tmp_path / "c.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)
