"""How `coach serve` logs: one line per event, UTC timestamps, CR/LF in messages escaped (ASVS 16.2.2, 16.4.1).

Without this the app's own loggers (`coach.*`) have no handler under uvicorn, and Python drops their INFO
records, which are the sign-in, sign-out and account events ASVS 16.3.1 asks for. `LOG_CONFIG` extends
uvicorn's default logging configuration and is passed to `uvicorn.run(log_config=...)`, so every worker
process applies it.
"""

from __future__ import annotations

import logging
import time
from typing import Any


class OneLineUTCFormatter(logging.Formatter):
    """ISO-8601 UTC times; a message cannot start a new line (forged log entries), tracebacks still can."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - the logging API's name
        return super().formatMessage(record).replace("\r", "\\r").replace("\n", "\\n")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_config() -> dict[str, Any]:
    """uvicorn's own configuration with the `coach` loggers added (INFO, to stderr, one line per event)."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {
        key: dict(value) if isinstance(value, dict) else value for key, value in LOGGING_CONFIG.items()
    }
    config["formatters"] = dict(config["formatters"])
    config["handlers"] = dict(config["handlers"])
    config["loggers"] = dict(config["loggers"])
    config["formatters"]["coach"] = {"()": OneLineUTCFormatter, "fmt": LOG_FORMAT}
    config["handlers"]["coach"] = {
        "formatter": "coach",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["coach"] = {"handlers": ["coach"], "level": "INFO", "propagate": False}
    return config
