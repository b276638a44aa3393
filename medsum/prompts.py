"""Instruction templates shared by finetuning, evaluation and serving.

The same function builds the prompt at training and at inference time, so the model is always
asked in the words it was trained on.
"""

from __future__ import annotations

from typing import Any

from medsum.records import TASK_NOTE, TASK_SECTION, TASK_SUMMARY

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


def instruction(task: str, section: str | None = None) -> str:
    """Return the instruction sentence for a task (and MTS-Dialog section code)."""
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
    raise ValueError(f"unknown task {task!r}")


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
