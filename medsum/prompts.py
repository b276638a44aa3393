"""Instruction templates shared by finetuning, evaluation and serving.

The same function builds the prompt at training and at inference time, so the model is always
asked in the words it was trained on.
"""

from __future__ import annotations

import re
from typing import Any

from medsum.records import TASK_NOTE, TASK_SECTION, TASK_SUMMARY, TASKS

SYSTEM_PROMPT = "You are a clinical documentation assistant. Write concise, factual notes."

# MTS-Dialog section codes and the names clinicians use for them.
SECTION_NAMES = {
    "GENHX": "history of present illness",
    "PASTMEDICALHX": "past medical history",
    "PASTSURGICAL": "past surgical history",
    "FAM/SOCHX": "family and social history",
    "CC": "chief complaint",
    "ALLERGY": "allergies",
    "ROS": "review of systems",
    "MEDICATIONS": "medications",
    "ASSESSMENT": "assessment",
    "EXAM": "physical examination",
    "DIAGNOSIS": "diagnosis",
    "DISPOSITION": "disposition",
    "PLAN": "plan",
    "EDCOURSE": "emergency department course",
    "IMMUNIZATIONS": "immunizations",
    "IMAGING": "imaging",
    "GYNHX": "gynecologic history",
    "PROCEDURES": "procedures",
    "OTHER_HISTORY": "other history",
    "LABS": "laboratory results",
}


# A hospital's own tasks, task name -> instruction, from the `tasks` section of a pipeline
# config (registered by each stage and by the service at start-up).
CUSTOM_TASKS: dict[str, str] = {}
TASK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def register_tasks(tasks: dict[str, str]) -> None:
    """Add custom tasks; names are lower-case identifiers and may not replace a built-in task."""
    for name, text in tasks.items():
        if not isinstance(name, str) or not TASK_NAME.match(name):
            raise ValueError(
                f"task name {name!r} is invalid; use 1-32 lower-case letters, digits or _, "
                "starting with a letter"
            )
        if name in TASKS:
            raise ValueError(f"task {name!r} is built in; choose another name")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"task {name!r} needs a non-empty instruction string")
        CUSTOM_TASKS[name] = text.strip()


def known_tasks() -> tuple[str, ...]:
    return (*TASKS, *sorted(CUSTOM_TASKS))


def instruction(task: str, section: str | None = None) -> str:
    """Return the instruction sentence for a task (and MTS-Dialog section code)."""
    if task in CUSTOM_TASKS:
        return CUSTOM_TASKS[task]
    if task == TASK_SECTION:
        name = SECTION_NAMES.get(section or "", (section or "summary").lower())
        return (
            f"Write the {name} section ({section or 'SUMMARY'}) of the clinical note "
            "for this doctor-patient conversation."
        )
    if task == TASK_NOTE:
        return "Write the full clinical visit note for this doctor-patient encounter."
    if task == TASK_SUMMARY:
        return "Summarize this clinical text for a clinician."
    raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(known_tasks())}")


def chat_messages(task: str, source: str, section: str | None = None) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{instruction(task, section)}\n\n{source}"},
    ]


def truncate_tokens(tokenizer: Any, text: str, max_tokens: int) -> str:
    """Cut `text` to at most `max_tokens` tokens, on a token boundary."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) <= max_tokens:
        return text
    return str(tokenizer.decode(ids[:max_tokens]))


def build_prompt(
    tokenizer: Any, task: str, source: str, section: str | None = None, max_source_tokens: int = 512
) -> str:
    """Return the chat-formatted prompt, ending where the assistant's answer starts."""
    source = truncate_tokens(tokenizer, source, max_source_tokens)
    return str(
        tokenizer.apply_chat_template(
            chat_messages(task, source, section), tokenize=False, add_generation_prompt=True
        )
    )
