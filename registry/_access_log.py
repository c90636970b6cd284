"""uvicorn's access log, without query strings.

A client that puts a token, a phone number or an e-mail address in a URL's query (by mistake,
or an old client) must not have it written to the log in clear: the path is kept, and a query
is shown only as being there.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

# uvicorn's access records carry (client, method, path with query, HTTP version, status).
_PATH = 2
_ARGS = 5


class WithoutQuery(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == _ARGS:
            full_path = args[_PATH]
            if isinstance(full_path, str) and "?" in full_path:
                path = full_path.partition("?")[0]
                record.args = (*args[:_PATH], f"{path}?…", *args[_PATH + 1 :])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with the filter on its access handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["without_query"] = {"()": WithoutQuery}
    config["handlers"]["access"].setdefault("filters", []).append("without_query")
    return config
