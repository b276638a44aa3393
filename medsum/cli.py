"""The `medsum` command line: one subcommand per pipeline stage plus service administration."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger("medsum")

INPUT_FORMATS = ["csv", "jsonl", "mts-dialog", "aci-bench", "physionet-deid", "fhir"]
FORMATS_BY_SUFFIX = {".csv": "csv", ".jsonl": "jsonl"}


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Third-party libraries log at INFO about downloads and weights; keep them quiet.
    for name in ("httpx", "transformers", "peft"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Presidio warns once per document about spaCy labels it does not map (PERCENT, ORDINAL...).
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)


def _config_from(args: argparse.Namespace) -> Any:
    from medsum.config import load_config

    config = load_config(Path(args.config) if args.config else None)
    if getattr(args, "run_dir", None):
        config.run_dir = args.run_dir
    if getattr(args, "policy", None):
        config.deidentify["policy"] = args.policy
    return config


def cmd_pipeline(args: argparse.Namespace) -> int:
    from medsum.pipeline import run_pipeline

    config = _config_from(args)
    manifest = run_pipeline(config, Path(args.config) if args.config else None)
    print(json.dumps(manifest["stages"], indent=2))
    evaluation = Path(config.run_dir) / "evaluate" / "report.md"
    if evaluation.exists():
        print(evaluation.read_text())
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    from medsum.stages import run_stage

    result = run_stage(args.command, _config_from(args))
    # Stage results hold counts, settings and scores, never record text.
    print(json.dumps(result, indent=2, default=str))
    return 0


def _input_format(args: argparse.Namespace) -> str:
    """Return --format, or the format that the extension of --input names."""
    if args.format:
        return str(args.format)
    suffix = Path(args.input).suffix.lower()
    if suffix in FORMATS_BY_SUFFIX:
        return FORMATS_BY_SUFFIX[suffix]
    raise SystemExit(
        f"medsum deidentify: cannot infer the format of {args.input} from its extension "
        f"{suffix or '(none)'}; name a .csv or .jsonl file, or pass --format with one of "
        f"{', '.join(INPUT_FORMATS)}"
    )


def cmd_deidentify(args: argparse.Namespace) -> int:
    if args.input is None:
        return cmd_stage(args)
    from deidentify import Deidentifier
    from deidentify.batch import available_cores
    from deidentify.corpus import deidentify_corpus
    from deidentify.policy import Policy
    from deidentify.resume import check_resume
    from medsum.keys import KeyStore
    from medsum.records import load_records

    if args.output is None:
        raise SystemExit("medsum deidentify: --output is required with --input")
    input_format = _input_format(args)
    # The policy and the input are checked before spaCy loads, which takes several seconds.
    policy = Policy.load(Path(args.policy)) if args.policy else None
    # The bar goes to stderr, and only to a terminal, so piped stdout stays plain JSON.
    progress = not args.no_progress and sys.stderr.isatty()
    full_pipeline = args.spacy_pipeline == "full"
    workers = args.workers or available_cores()
    if workers < 1:
        raise SystemExit(f"medsum deidentify: --workers must be at least 1, got {workers}")
    if input_format == "physionet-deid":
        from deidentify.physionet import check_output_dir, deidentify_notes, read_notes

        notes = read_notes(Path(args.input))
        check_output_dir(Path(args.input), Path(args.output))
        deid = Deidentifier.create(policy=policy, full_pipeline=full_pipeline)
        detections = deidentify_notes(
            notes, Path(args.output), deid, progress=progress, workers=workers
        )
        count = sum(len(spans) for spans in detections.values())
        print(json.dumps({"notes": len(notes), "detected_spans": count}))
        return 0
    keys = KeyStore.open()
    if input_format == "fhir":
        from deidentify.fhir import RESOURCES_FILE, deidentify_fhir_file, read_fhir_file

        # Invalid JSON and a resume under another policy or key fail here, before spaCy loads.
        read_fhir_file(Path(args.input))
        check_resume(Path(args.output), policy or Policy(), keys, output_name=RESOURCES_FILE)
        deid = Deidentifier.create(keys, policy=policy, full_pipeline=full_pipeline)
        print(json.dumps(deidentify_fhir_file(Path(args.input), Path(args.output), deid), indent=2))
        return 0
    records = load_records(input_format, Path(args.input))
    check_resume(Path(args.output), policy or Policy(), keys)
    deid = Deidentifier.create(keys, policy=policy, full_pipeline=full_pipeline)
    report = deidentify_corpus(records, Path(args.output), deid, progress=progress, workers=workers)
    print(json.dumps(report, indent=2))
    return 0


def _check_output_not_input(
    command: str, output: str | None, inputs: list[str | Path | None]
) -> None:
    """Exit when --output names one of the input files, which writing the scores would replace."""
    if output is None or not Path(output).exists():
        return
    for path in inputs:
        if path is not None and Path(path).exists() and Path(output).samefile(path):
            raise SystemExit(
                f"medsum {command}: --output {output} is the input file {path}, which the "
                "scores would overwrite; name a new file such as scores.json"
            )


def _score_presidio_json(args: argparse.Namespace) -> int:
    from deidentify.batch import available_cores
    from deidentify.presidio_synth import read_examples, score_system

    _check_output_not_input("score-deid", args.output, [args.gold])
    # The gold file is checked before spaCy loads, which takes several seconds.
    examples = read_examples(Path(args.gold))
    workers = args.workers or available_cores()
    result = score_system(args.system, examples, workers=workers)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    summary = {name: result[name] for name in ("span_any_overlap", "span_exact", "token")}
    print(json.dumps({"texts": result["texts"], **summary}, indent=2))
    return 0


def cmd_score_deid(args: argparse.Namespace) -> int:
    if args.format == "presidio-json":
        return _score_presidio_json(args)
    from deidentify.physionet import (
        TRACE_NAME,
        check_notes_match,
        check_trace_matches,
        false_positives_by,
        read_notes,
        read_spans,
        read_trace,
        read_typed_gold,
        recall_by_type,
        score_overlap,
        score_tokens,
    )

    if not args.detections:
        raise SystemExit("medsum score-deid: --detections is required with --format physionet")
    # medsum's own runs leave a decision trace beside the detections; other tools' do not.
    trace_path = Path(args.detections).with_name(TRACE_NAME)
    inputs = [args.gold, args.detections, args.notes, args.phrases, trace_path]
    _check_output_not_input("score-deid", args.output, inputs)
    detected = read_spans(Path(args.detections))
    gold = read_spans(Path(args.gold))
    result: dict[str, Any] = {"overall": score_overlap(gold, detected)}
    if args.notes:
        notes = read_notes(Path(args.notes))
        check_notes_match(notes, gold, Path(args.gold))
        check_notes_match(notes, detected, Path(args.detections))
        result["tokens"] = score_tokens(notes, gold, detected)
    if args.phrases:
        result["recall_by_type"] = recall_by_type(read_typed_gold(Path(args.phrases)), detected)
    if trace_path.exists():
        trace = read_trace(trace_path)
        check_trace_matches(trace, detected, trace_path)
        result["false_positives_by_entity_type"] = false_positives_by(gold, trace, "entity_type")
        result["false_positives_by_recognizer"] = false_positives_by(gold, trace, "recognizer")
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


def _train_options(pairs: list[str]) -> dict[str, Any]:
    """Parse repeated `--set key=value` options; values are read as YAML scalars."""
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ValueError(f"--set expects key=value (e.g. max_steps=50), got {pair!r}")
        options[key.strip()] = yaml.safe_load(value)
    return options


def cmd_classify(args: argparse.Namespace) -> int:
    from deidentify.corpus import load_deidentified
    from train.classify import run_section_classification
    from train.config import TrainConfig

    options = {"max_source_tokens": 256, "max_seq_len": 512, **_train_options(args.set)}
    metrics = run_section_classification(
        load_deidentified(Path(args.train_records)),
        load_deidentified(Path(args.test_records)),
        Path(args.output),
        TrainConfig.from_dict(options),
        args.base_model,
    )
    print(json.dumps({k: metrics[k] for k in ("test", "majority_class_baseline")}, indent=2))
    return 0


def _bench_deid(args: argparse.Namespace) -> int:
    from deidentify.batch import available_cores
    from deidentify.bench import bench_deid, load_corpus

    workers = args.workers or available_cores()
    if args.target == "deid":
        records = load_corpus(args.corpus, 200 if args.notes is None else args.notes)
        output = Path(args.output or "docs/bench-deid")
        texts = [record.text for record in records]
        report = bench_deid(
            texts, output, corpus=args.corpus, workers=workers, batch_size=args.pipe_batch
        )
        print(json.dumps(report["ratio_to_presidio_default"], indent=2))
        return 0
    from deidentify import Deidentifier
    from deidentify.over_redaction import measure_over_redaction, write_report

    records = load_corpus(args.corpus, args.notes)
    report = measure_over_redaction(
        Deidentifier.create(), records, workers=workers, batch_size=args.pipe_batch
    )
    write_report(report, Path(args.output or "docs/results-over-redaction"))
    print(json.dumps({"overall": report["overall"], "by_category": report["by_category"]}))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from medsum.records import load_records

    if args.target in ("deid", "over-redaction"):
        return _bench_deid(args)

    if args.records:
        from deidentify.corpus import load_deidentified

        records = load_deidentified(Path(args.records))
    else:
        records = load_records("synthetic", synthetic_count=200)
    texts = [r.text + ("\n\n" + r.summary if r.summary else "") for r in records]
    if args.target == "train":
        from train.bench import bench_train

        report = bench_train(
            texts,
            Path(args.output or "docs/bench-train"),
            steps=args.steps,
            seq_len=args.seq_len,
            batch_size=args.batch_size,
            base_model=args.base_model,
        )
        print(json.dumps({k: v for k, v in report.items() if k != "modes"}, indent=2))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from deidentify.policy import Policy
    from medsum.api import ServiceSettings, create_app

    config = _config_from(args)
    # --policy overrides deidentify.policy of --config. The file is validated before the model
    # and spaCy load, with the same errors as `medsum deidentify --policy`.
    policy_path = config.deidentify.get("policy")
    settings = ServiceSettings(
        database_url=args.database,
        adapters=[Path(a) for a in args.adapter],
        base_model=args.base_model,
        max_new_tokens=args.max_new_tokens,
        tasks=config.tasks,
        policy=Policy.load(Path(policy_path)) if policy_path else None,
    )
    # uvicorn's access log prints raw paths and query strings, which may carry identifiers;
    # medsum logs one line per request with the route template instead.
    uvicorn.run(
        create_app(settings), host=args.host, port=args.port, log_level="info", access_log=False
    )
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from medsum.auth import ROLES, TokenStore
    from medsum.storage import open_database

    store = TokenStore(open_database(args.database))
    if args.action == "create":
        if args.role not in ROLES:
            raise ValueError(f"unknown role {args.role!r}; expected one of {sorted(ROLES)}")
        token = store.create(args.name, args.role)
        print(token)  # shown once; only its hash is stored
    elif args.action == "list":
        for row in store.list():
            print(json.dumps(row))
    elif args.action == "revoke" and not store.revoke(args.name):
        raise SystemExit(f"no active token named {args.name!r}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from medsum.audit import AuditLog, derive_audit_key
    from medsum.keys import KeyStore
    from medsum.storage import open_database

    log = AuditLog(open_database(args.database), derive_audit_key(KeyStore.open().hmac_key))
    if args.action == "head":
        print(json.dumps(log.head()))
        return 0
    if args.action == "verify":
        expected = None
        if args.head:
            expected = json.loads(Path(args.head).read_text())
        problems = log.verify(expected)
        print(json.dumps({"valid": not problems, "problems": problems}, indent=2))
        return 1 if problems else 0
    for record in log.query(limit=args.limit):
        print(json.dumps(record))
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from medsum.keys import KeyStore

    store = KeyStore.open()
    if args.action == "rotate":
        print(json.dumps({"current": store.rotate(), "directory": str(store.directory)}))
    else:
        print(json.dumps({"current": store.current_id, "directory": str(store.directory)}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medsum", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--config", help="pipeline YAML file (default: embedded synthetic corpus)")
        sub.add_argument("--run-dir", help="override the run directory named in the config")

    pipeline = commands.add_parser("pipeline", help="run every stage in order")
    with_config(pipeline)
    pipeline.set_defaults(handler=cmd_pipeline)

    deid = commands.add_parser(
        "deidentify",
        help="de-identify the configured splits, or one input file with --input",
    )
    with_config(deid)
    deid.add_argument("--input", help="a single input file to de-identify instead of the config")
    deid.add_argument(
        "--format",
        choices=INPUT_FORMATS,
        help="layout of --input (csv/jsonl use columns id, text, summary, patient_id; "
        "physionet-deid reads id.text and writes detections.phi beside the notes; "
        "fhir reads FHIR R4 JSON or NDJSON and writes resources.ndjson); "
        "default: from the extension of --input (.csv or .jsonl)",
    )
    deid.add_argument("--output", help="output directory for --input")
    deid.add_argument(
        "--policy",
        help="transformation policy YAML file (see configs/deid-policy.yaml); overrides "
        "deidentify.policy of --config; default: surrogates for every entity type",
    )
    deid.add_argument(
        "--workers",
        type=int,
        help="processes for --input runs of csv, jsonl, mts-dialog, aci-bench and "
        "physionet-deid (default: all cores); the output does not depend on it, except which "
        "of two names whose surrogates collide gets the first draw",
    )
    deid.add_argument(
        "--spacy-pipeline",
        choices=["ner", "full"],
        default="ner",
        help="spaCy components for --input runs: ner (entity recognizer only, the default) or "
        "full (also tagger, parser and lemmatizer, about 1.7x slower; for comparison)",
    )
    deid.add_argument(
        "--no-progress",
        action="store_true",
        help="hide the progress bar of --input runs (shown on stderr, and only on a terminal)",
    )
    deid.set_defaults(handler=cmd_deidentify)

    for name, text in (
        ("pretrain", "domain-adaptive pretraining (LoRA, causal LM) on de-identified text"),
        ("finetune", "instruction finetuning (LoRA, loss on the summary only)"),
        ("evaluate", "generate on the held-out split and score ROUGE, base vs finetuned"),
    ):
        sub = commands.add_parser(name, help=text)
        with_config(sub)
        sub.set_defaults(handler=cmd_stage)

    score = commands.add_parser(
        "score-deid", help="score PhysioNet-layout detections against gold spans (any overlap)"
    )
    score.add_argument(
        "--format",
        default="physionet",
        choices=["physionet", "presidio-json"],
        help="physionet: score --detections against --gold span files; presidio-json: run "
        "medsum over the texts of a Presidio-style JSON --gold file and score its spans",
    )
    score.add_argument("--gold", required=True, help="gold span file, e.g. id.deid")
    score.add_argument("--detections", help="detected span file, e.g. detections.phi")
    score.add_argument("--output", help="write the full figures to this JSON file")
    score.add_argument(
        "--workers", type=int, help="presidio-json: processes for detection (default: all cores)"
    )
    score.add_argument(
        "--system",
        default="medsum",
        choices=["medsum", "presidio-default"],
        help="presidio-json: detector to score (presidio-default: Presidio's default analyzer)",
    )
    score.add_argument("--phrases", help="id-phi.phrase with gold types, for recall per type")
    score.add_argument("--notes", help="id.text with the notes, for token-level figures")
    score.set_defaults(handler=cmd_score_deid)

    classify = commands.add_parser(
        "classify",
        help="train a section classifier (MTS-Dialog section codes) and score it",
    )
    classify.add_argument(
        "--train-records", required=True, help="de-identified corpus folder to train on"
    )
    classify.add_argument(
        "--test-records", required=True, help="de-identified corpus folder to score"
    )
    classify.add_argument("--output", required=True, help="output folder (adapter, metrics.json)")
    classify.add_argument("--base-model", default="smollm2-135m-instruct", help="base model")
    classify.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="training option, e.g. --set max_steps=100 (see train/config.py)",
    )  # fmt: skip
    classify.set_defaults(handler=cmd_classify)

    bench = commands.add_parser("bench", help="measure throughput and write JSON + markdown")
    bench.add_argument(
        "target", choices=["train", "deid", "over-redaction"], help="what to measure"
    )
    bench.add_argument(
        "--records", help="de-identified corpus folder (deid/train of a run); default synthetic"
    )
    bench.add_argument("--steps", type=int, default=8, help="timed optimizer steps per mode")
    bench.add_argument("--seq-len", type=int, default=256, help="tokens per row")
    bench.add_argument("--batch-size", type=int, default=4, help="rows per step")
    bench.add_argument("--base-model", default="smollm2-135m-instruct", help="base model")
    bench.add_argument(
        "--output",
        help="output path without suffix (default: docs/bench-train, docs/bench-deid or "
        "docs/results-over-redaction)",
    )
    bench.add_argument(
        "--corpus",
        default="synthetic",
        choices=["synthetic", "physionet", "mts-dialog"],
        help="deid, over-redaction: texts to use; physionet and mts-dialog need MEDSUM_DATA_DIR",
    )
    bench.add_argument(
        "--notes",
        type=int,
        help="deid, over-redaction: records to use (default: 200 for deid, all for over-redaction)",
    )
    bench.add_argument(
        "--workers", type=int, help="deid, over-redaction: worker processes (default: all cores)"
    )
    bench.add_argument(
        "--pipe-batch", type=int, default=32, help="deid, over-redaction: texts per nlp.pipe batch"
    )
    bench.set_defaults(handler=cmd_bench)

    serve = commands.add_parser("serve", help="serve the summarization HTTP API")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    serve.add_argument("--database", default="sqlite:///medsum.db", help="SQLAlchemy database URL")
    serve.add_argument(
        "--adapter", action="append", default=[],
        help="adapter folder; repeat to stack (earlier ones are merged into the base)",
    )  # fmt: skip
    serve.add_argument(
        "--base-model", default="smollm2-135m-instruct", help="base model name or folder"
    )
    serve.add_argument(
        "--max-new-tokens", type=int, default=200, help="generation limit per summary"
    )
    serve.add_argument(
        "--config",
        help="pipeline YAML whose `tasks` section defines custom tasks to accept and whose "
        "deidentify.policy names the de-identification policy",
    )
    serve.add_argument(
        "--policy",
        help="de-identification policy YAML file (see configs/deid-policy.yaml); overrides "
        "deidentify.policy of --config; default: surrogates for every entity type",
    )
    serve.set_defaults(handler=cmd_serve)

    tokens = commands.add_parser("tokens", help="create, list or revoke API tokens")
    tokens.add_argument("action", choices=["create", "list", "revoke"])
    tokens.add_argument("--name", help="token name (create, revoke)")
    tokens.add_argument(
        "--role", default="clinician", help="clinician, integration, research or auditor"
    )
    tokens.add_argument("--database", default="sqlite:///medsum.db", help="SQLAlchemy database URL")
    tokens.set_defaults(handler=cmd_tokens)

    audit = commands.add_parser("audit", help="list or verify the audit log")
    audit.add_argument("action", choices=["list", "verify", "head"])
    audit.add_argument(
        "--head", help="JSON file saved from `medsum audit head`; verify also checks it"
    )
    audit.add_argument("--limit", type=int, default=100, help="records to list (newest first)")
    audit.add_argument("--database", default="sqlite:///medsum.db", help="SQLAlchemy database URL")
    audit.set_defaults(handler=cmd_audit)

    keys = commands.add_parser("keys", help="show or rotate the vault encryption key")
    keys.add_argument("action", choices=["show", "rotate"])
    keys.set_defaults(handler=cmd_keys)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    if args.command == "tokens" and args.action in ("create", "revoke") and not args.name:
        raise SystemExit(f"medsum tokens {args.action}: --name is required")
    try:
        return int(args.handler(args))
    except (ValueError, OSError, RuntimeError) as exc:
        # Messages of medsum's own errors never contain note text; print them without a trace.
        logger.error("%s failed: %s", args.command, exc)
        return 2
    except Exception as exc:
        # Third-party messages may quote input, so only the exception type is shown.
        logger.error(
            "%s failed with %s; rerun with -v and MEDSUM_DEBUG=1 for a traceback",
            args.command,
            type(exc).__name__,
        )
        if os.environ.get("MEDSUM_DEBUG") == "1":
            raise
        return 2


if __name__ == "__main__":
    sys.exit(main())
