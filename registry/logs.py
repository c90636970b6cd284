"""Logs as JSON lines on stderr, each line of a request carrying its request ID.

The code logs through the standard ``logging`` module (so tests' ``caplog`` sees its records
as before); structlog renders them. ``registry serve`` sets this up for the process through
uvicorn's logging configuration; importing the package configures nothing.

A request's lines carry its ID and, once known, the handle of the principal who sent it: a
handle is the principal's stable ID, never a name, and a token never leaves the request.
Messages name requests, recordings and counts, never a subject's data.
"""

from __future__ import annotations

from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

# uvicorn's access records carry (client, method, path with query, HTTP version, status).
_ACCESS_ARGS = 5


def start_request() -> None:
    """Forgets what an earlier request bound in this context."""
    structlog.contextvars.clear_contextvars()


def bind_request(request_id: str) -> None:
    structlog.contextvars.bind_contextvars(request_id=request_id)


def bind_principal(handle: str) -> None:
    structlog.contextvars.bind_contextvars(principal=handle)


def _access_fields(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    # The client's address is left out (it may identify a person); registry._access_log's
    # filter has already cut the query to "?…".
    args = event.pop("positional_args", None)
    record = event.get("_record")
    access = getattr(record, "name", "") == "uvicorn.access"
    if access and isinstance(args, tuple) and len(args) == _ACCESS_ARGS:
        _client, method, path, _version, status = args
        event.update(event=f"{method} {path} {status}", method=method, path=path, status=status)
    return event


# Applied to every record of the standard library, before the renderer.
PRE_CHAIN: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _access_fields,
    structlog.processors.format_exc_info,
]


def formatter() -> structlog.stdlib.ProcessorFormatter:
    """The formatter that renders a record as one JSON line."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=PRE_CHAIN,
        # The access log's fields are read from its arguments (see _access_fields).
        pass_foreign_args=True,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )


def json_lines(base: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's logging configuration ``base`` with every handler writing JSON lines to
    stderr, and the root logger (the registry's own loggers) on the same handler."""
    config = dict(base)
    config["formatters"] = {"json": {"()": formatter}}
    for handler in config["handlers"].values():
        handler["formatter"] = "json"
        handler["stream"] = "ext://sys.stderr"
    config["root"] = {"handlers": ["default"], "level": "INFO"}
    return config
