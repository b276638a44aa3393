"""The summarization HTTP API.

Request path: bearer-token auth -> de-identify -> generate -> re-identify (only for roles allowed
to see PHI) -> audit -> response. Every request that reaches a route, allowed or denied, writes
one audit record. Error responses describe what was wrong with the request and never echo its
content.

Routes:
    POST /v1/summaries   summarize a text (roles with `summarize`)
    GET  /v1/audit       list audit records (role `auditor`)
    GET  /v1/audit/verify  check the audit hash chain (role `auditor`)
    GET  /healthz        liveness, loaded model and de-identification policy hash
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator

from medsum.audit import AuditLog, derive_audit_key
from medsum.auth import Principal, TokenStore
from medsum.keys import KeyStore
from medsum.models import DEFAULT_BASE_MODEL
from medsum.prompts import SECTION_NAMES
from medsum.storage import open_database

if TYPE_CHECKING:
    from deidentify.policy import Policy

logger = logging.getLogger("medsum.api")

MAX_BODY_BYTES = 1_000_000
MAX_TEXT_CHARS = 100_000


@dataclass
class ServiceSettings:
    """Settings the service reads at start-up."""

    database_url: str = "sqlite:///medsum.db"
    adapters: list[Path] = field(default_factory=list)
    base_model: str = DEFAULT_BASE_MODEL
    max_new_tokens: int = 200
    max_source_tokens: int = 512
    # Custom tasks (name -> instruction) from the pipeline config the model was trained with.
    tasks: dict[str, str] = field(default_factory=dict)
    # The de-identification policy, loaded and validated at start-up. None means the default.
    policy: "Policy | None" = None


class SummaryRequest(BaseModel):
    """A text to summarize. Unknown fields are rejected so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="Note or dialogue text")
    patient_id: str | None = Field(
        default=None, max_length=256, description="Keeps surrogates consistent per patient"
    )
    task: str = Field(
        default="summary", max_length=32, description="section, note, summary or a custom task"
    )
    section: str | None = Field(
        default=None, max_length=32, description="MTS-Dialog section code for task=section"
    )

    @field_validator("task")
    @classmethod
    def known_task(cls, value: str) -> str:
        from medsum.prompts import known_tasks

        if value not in known_tasks():
            raise ValueError(f"unknown task; expected one of {', '.join(known_tasks())}")
        return value

    @field_validator("section")
    @classmethod
    def known_section(cls, value: str | None) -> str | None:
        if value is not None and value not in SECTION_NAMES:
            raise ValueError(f"unknown section code; expected one of {', '.join(SECTION_NAMES)}")
        return value


ALLOWED_FIELDS = ", ".join(SummaryRequest.model_fields)


class SummaryResponse(BaseModel):
    request_id: str
    summary: str
    deidentified: bool = Field(description="True when the summary still holds surrogates")
    model_id: str
    adapter_id: str | None
    phi_entities: dict[str, int] = Field(description="Counts of PHI spans replaced, by type")


class Summarizer:
    """The loaded model, tokenizer and de-identifier; one generation at a time."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        model: Any = None,
        tokenizer: Any = None,
        deidentifier: Any = None,
    ) -> None:
        """Load what `settings` names; `model`, `tokenizer` and `deidentifier` override that."""
        from deidentify import Deidentifier
        from medsum.models import load_model, load_tokenizer

        self.settings = settings
        self.tokenizer = tokenizer or load_tokenizer(settings.base_model)
        self.model = model or load_model(settings.base_model, adapters=settings.adapters)
        self.deidentifier = deidentifier or Deidentifier.create(policy=settings.policy)
        policy = self.deidentifier.policy
        if settings.policy is not None and policy.fingerprint() != settings.policy.fingerprint():
            raise ValueError(
                "the de-identifier passed to Summarizer uses another policy than "
                f"settings.policy ({settings.policy.source}); pass one built with that policy"
            )
        self.policy_sha256: str = policy.fingerprint()
        logger.info(
            "de-identification policy %s (sha256 %s)", policy.source, self.policy_sha256[:12]
        )
        self.model_id = settings.base_model
        names = [a.parent.name if a.name == "adapter" else a.name for a in settings.adapters]
        self.adapter_id = "+".join(names) or None
        self._lock = asyncio.Lock()

    def _summarize(
        self, request: SummaryRequest, reveal_phi: bool
    ) -> tuple[str, dict[str, int], bool]:
        from deidentify import reidentify
        from medsum.generation import GenerationSettings, generate
        from medsum.prompts import build_prompt

        result = self.deidentifier.deidentify(request.text, request.patient_id)
        prompt = build_prompt(
            self.tokenizer,
            request.task,
            result.text,
            request.section,
            self.settings.max_source_tokens,
        )
        settings = GenerationSettings(max_new_tokens=self.settings.max_new_tokens, batch_size=1)
        outputs, _ = generate(self.model, self.tokenizer, [prompt], settings)
        summary = outputs[0]
        if reveal_phi:
            summary = reidentify(summary, result.mapping)
        return summary, result.counts, not reveal_phi

    async def summarize(
        self, request: SummaryRequest, reveal_phi: bool
    ) -> tuple[str, dict[str, int], bool]:
        async with self._lock:
            return await asyncio.to_thread(self._summarize, request, reveal_phi)


def route_of(request: Request) -> str:
    """Return the matched route's template, never the raw path, which may carry identifiers."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "unrouted"))


# Audit action per route, the same name whether the call succeeded or was rejected.
ACTIONS = {
    "/v1/summaries": "summarize",
    "/v1/audit": "audit.query",
    "/v1/audit/head": "audit.head",
    "/v1/audit/verify": "audit.verify",
}


def action_of(request: Request) -> str:
    """Return the audit action of the request's route, or its route template if it has none."""
    route = route_of(request)
    return ACTIONS.get(route, route)


def describe_validation_error(error: dict[str, Any]) -> str:
    """Format one validation problem as 'location: reason', without the value or field name."""
    location = [str(part) for part in error.get("loc", ())]
    if error.get("type") == "extra_forbidden":
        return f"{location[0] if location else 'body'}: unknown field (allowed: {ALLOWED_FIELDS})"
    return f"{'.'.join(location)}: {error.get('msg', 'invalid value')}"


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware that returns 413 once a request body passes `limit` bytes.

    It reads the whole body first, counting the bytes actually received, so a chunked body with
    no Content-Length is limited too, then replays it to the app. It also assigns the request id
    that every later layer uses.
    """

    def __init__(self, app: Any, *, limit: int, on_reject: Callable[[str], None]) -> None:
        self.app = app
        self.limit = limit
        self.on_reject = on_reject

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0").decode("latin-1")
        try:
            if not declared.isdigit() or int(declared) > self.limit:
                raise _BodyTooLarge
            body = await self._read_body(receive)
        except _BodyTooLarge:
            self.on_reject(request_id)
            response = _problem(
                413,
                f"request body exceeds {self.limit} bytes; split the text into smaller notes",
                request_id,
            )
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect message

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Any) -> bytes:
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _problem(status: int, message: str, request_id: str) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"detail": message, "request_id": request_id},
        headers={"X-Request-ID": request_id},
    )


def create_app(settings: ServiceSettings, summarizer: Summarizer | None = None) -> FastAPI:
    """Assemble the app: database, token store, audit log and the loaded model."""
    from medsum.prompts import register_tasks

    register_tasks(settings.tasks)
    engine = open_database(settings.database_url)
    tokens = TokenStore(engine)
    audit = AuditLog(engine, derive_audit_key(KeyStore.open().hmac_key))
    loaded = summarizer or Summarizer(settings)
    app = FastAPI(title="medsum", version="0.1.0", summary="Audited clinical summarization")
    bearer = HTTPBearer(auto_error=False)

    def request_id_of(request: Request) -> str:
        return str(
            request.scope.setdefault("state", {}).setdefault("request_id", str(uuid.uuid4()))
        )

    @app.middleware("http")
    async def tag_and_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Request-ID"] = request_id_of(request)
        # The route template, method, status and timing only: a raw path or query string may
        # carry identifiers a client put there.
        logger.info(
            "request %s %s %s -> %d in %.0f ms",
            request_id_of(request),
            request.method,
            route_of(request),
            response.status_code,
            1000 * (time.perf_counter() - started),
        )
        return response

    def reject_oversized(request_id: str) -> None:
        audit.append(
            request_id=request_id,
            principal="unauthenticated",
            role=None,
            action="oversized_request",
            outcome="rejected_too_large",
            status_code=413,
        )

    # Added last, so it is the outermost layer and sees the body before anything parses it.
    app.add_middleware(BodySizeLimit, limit=MAX_BODY_BYTES, on_reject=reject_oversized)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default handler echoes the rejected input; list locations and reasons only.
        problems = [describe_validation_error(error) for error in exc.errors()]
        principal = getattr(request.state, "principal", None)
        audit.append(
            request_id=request_id_of(request),
            principal=principal.name if principal else "unauthenticated",
            role=principal.role if principal else None,
            action=action_of(request),
            outcome="rejected_invalid",
            status_code=422,
        )
        if route_of(request) == "/v1/summaries":
            hint = (
                "Send a JSON object with a non-empty 'text' string and optional "
                "'patient_id', 'task', 'section'."
            )
        else:
            hint = "Check the query parameters against the API table in the README."
        return _problem(
            422, "invalid request: " + "; ".join(problems) + ". " + hint, request_id_of(request)
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        response = _problem(exc.status_code, str(exc.detail), request_id_of(request))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    def require(permission: str) -> Callable[..., Principal]:
        def dependency(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> Principal:
            action = action_of(request)
            if credentials is None:
                audit.append(
                    request_id=request_id_of(request),
                    principal="unauthenticated",
                    role=None,
                    action=action,
                    outcome="denied_no_token",
                    status_code=401,
                )
                raise HTTPException(
                    401,
                    "missing bearer token; send 'Authorization: Bearer <token>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            principal = tokens.authenticate(credentials.credentials)
            if principal is None:
                audit.append(
                    request_id=request_id_of(request),
                    principal="unknown-token",
                    role=None,
                    action=action,
                    outcome="denied_bad_token",
                    status_code=401,
                )
                raise HTTPException(
                    401,
                    "invalid or revoked token; create one with `medsum tokens create`",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if not principal.can(permission):
                audit.append(
                    request_id=request_id_of(request),
                    principal=principal.name,
                    role=principal.role,
                    action=action,
                    outcome="denied_role",
                    status_code=403,
                )
                raise HTTPException(403, f"role {principal.role!r} may not call {action}")
            request.state.principal = principal
            return principal

        return dependency

    def record_audit_call(request: Request, principal: Principal, action: str) -> None:
        audit.append(
            request_id=request_id_of(request),
            principal=principal.name,
            role=principal.role,
            action=action,
            outcome="ok",
            status_code=200,
        )

    Summarize = Annotated[Principal, Depends(require("summarize"))]
    Auditor = Annotated[Principal, Depends(require("audit"))]

    @app.post("/v1/summaries", response_model=SummaryResponse)
    async def create_summary(
        body: SummaryRequest, principal: Summarize, request: Request
    ) -> SummaryResponse:
        """Summarize a clinical text; PHI is replaced before the model sees it."""
        request_id = request_id_of(request)
        try:
            summary, counts, deidentified = await loaded.summarize(body, principal.can("phi"))
        except Exception as exc:
            # The exception type only: messages of third-party code may quote the input.
            logger.error("request %s: summarization failed (%s)", request_id, type(exc).__name__)
            audit.append(
                request_id=request_id,
                principal=principal.name,
                role=principal.role,
                action="summarize",
                outcome="error",
                status_code=500,
                input_hash=audit.digest(body.text),
                model_id=loaded.model_id,
                adapter_id=loaded.adapter_id,
            )
            raise HTTPException(
                500, "summarization failed; the request id is in the audit log"
            ) from None
        audit.append(
            request_id=request_id,
            principal=principal.name,
            role=principal.role,
            action="summarize",
            outcome="ok",
            status_code=200,
            input_hash=audit.digest(body.text),
            output_hash=audit.digest(summary),
            model_id=loaded.model_id,
            adapter_id=loaded.adapter_id,
        )
        return SummaryResponse(
            request_id=request_id,
            summary=summary,
            deidentified=deidentified,
            model_id=loaded.model_id,
            adapter_id=loaded.adapter_id,
            phi_entities=counts,
        )

    @app.get("/v1/audit")
    def list_audit(
        principal: Auditor,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        since: datetime | None = None,
        principal_name: Annotated[str | None, Query(alias="principal")] = None,
        action: str | None = None,
    ) -> dict[str, Any]:
        """List audit records, newest first."""
        records = audit.query(limit=limit, principal=principal_name, action=action, since=since)
        record_audit_call(request, principal, "audit.query")
        return {"records": records}

    @app.get("/v1/audit/head")
    def audit_head(principal: Auditor, request: Request) -> dict[str, Any]:
        """Record count and last hash; store them elsewhere to detect removed records later."""
        head = audit.head()
        record_audit_call(request, principal, "audit.head")
        return head

    @app.get("/v1/audit/verify")
    def verify_audit(
        principal: Auditor,
        request: Request,
        records: Annotated[
            int | None, Query(ge=0, description="count from an earlier head")
        ] = None,
        last_hash: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        """Recompute the audit hash chain and report broken links and removed records."""
        expected = None
        if records is not None and last_hash is not None:
            expected = {"records": records, "last_hash": last_hash}
        problems = audit.verify(expected)
        record_audit_call(request, principal, "audit.verify")
        return {"valid": not problems, "problems": problems}

    @app.get("/healthz")
    def health() -> dict[str, Any]:
        """Liveness, the loaded model and the SHA-256 of the de-identification policy."""
        return {
            "status": "ok",
            "model_id": loaded.model_id,
            "adapter_id": loaded.adapter_id,
            "deid_policy_sha256": loaded.policy_sha256,
        }

    return app
