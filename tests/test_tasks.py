"""A hospital's own tasks: defined in the pipeline config, used by records, prompts and the API."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from medsum import prompts
from medsum.config import ConfigError, load_config
from medsum.records import ColumnMapping, RecordFormatError, load_records


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    prompts.CUSTOM_TASKS.clear()
    yield
    prompts.CUSTOM_TASKS.clear()


def test_config_registers_custom_task(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("tasks:\n  discharge: Write the discharge summary for this admission.\n")
    config = load_config(path)
    assert config.tasks == {"discharge": "Write the discharge summary for this admission."}
    assert "discharge" in prompts.known_tasks()
    assert prompts.instruction("discharge") == "Write the discharge summary for this admission."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tasks:\n  Discharge Note: Write it.\n", "invalid"),
        ("tasks:\n  note: Write it.\n", "built in"),
        ("tasks:\n  discharge: ''\n", "non-empty instruction"),
        ("tasks: [discharge]\n", "map task names"),
    ],
)
def test_bad_task_definitions_rejected(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_records_accept_registered_task_only(tmp_path: Path) -> None:
    csv_path = tmp_path / "notes.csv"
    csv_path.write_text("id,text,task\n1,Admitted for chest pain.,discharge\n")
    mapping = ColumnMapping(task="task")
    with pytest.raises(RecordFormatError, match="unknown task value"):
        load_records("csv", csv_path, mapping=mapping)
    prompts.register_tasks({"discharge": "Write the discharge summary."})
    records = load_records("csv", csv_path, mapping=mapping)
    assert records[0].task == "discharge"


def test_prompt_uses_custom_instruction(tokenizer) -> None:  # type: ignore[no-untyped-def]
    prompts.register_tasks({"discharge": "Write the discharge summary."})
    prompt = prompts.build_prompt(tokenizer, "discharge", "Admitted for chest pain.")
    assert "Write the discharge summary." in prompt
    with pytest.raises(ValueError, match="known tasks"):
        prompts.build_prompt(tokenizer, "referral", "text")


def test_api_accepts_configured_task(tmp_path: Path, tiny_model, tokenizer, deidentifier) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from medsum.api import ServiceSettings, Summarizer, create_app
    from medsum.auth import TokenStore
    from medsum.storage import open_database

    url = f"sqlite:///{tmp_path / 'service.db'}"
    settings = ServiceSettings(
        database_url=url, max_new_tokens=4, tasks={"discharge": "Write the discharge summary."}
    )
    summarizer = Summarizer(
        settings, model=tiny_model.eval(), tokenizer=tokenizer, deidentifier=deidentifier
    )
    token = TokenStore(open_database(url)).create("c-1", "clinician")
    with TestClient(create_app(settings, summarizer)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        body = {"text": "Admitted for chest pain.", "task": "discharge"}
        assert client.post("/v1/summaries", json=body, headers=headers).status_code == 200
        body["task"] = "referral"
        response = client.post("/v1/summaries", json=body, headers=headers)
        assert response.status_code == 422
        assert "unknown task" in response.json()["detail"]
