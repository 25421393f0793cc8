"""Log records as JSON lines or text, each carrying the id of the request it was written in."""

from __future__ import annotations

import json
import logging

import pytest

from entrypoints.logs import JsonFormatter, RequestIdFilter, TextFormatter, request_id


def record(message: str, *, exc: BaseException | None = None, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("chat_media.test", logging.WARNING, __file__, 1, message, None, None)
    if exc is not None:
        made.exc_info = (type(exc), exc, exc.__traceback__)
    for key, value in extra.items():
        setattr(made, key, value)
    RequestIdFilter().filter(made)
    return made


def test_a_json_line_has_the_records_fields_its_extras_and_the_request_id() -> None:
    token = request_id.set("req-1")
    try:
        line = json.loads(JsonFormatter().format(record("upload refused", status=415, user_id="alice")))
    finally:
        request_id.reset(token)
    assert line["msg"] == "upload refused"
    assert (line["level"], line["logger"]) == ("warning", "chat_media.test")
    assert (line["request_id"], line["status"], line["user_id"]) == ("req-1", 415, "alice")
    assert line["ts"].endswith("+00:00")


def test_a_traceback_is_one_field_of_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        text = JsonFormatter().format(record("failed", exc=exc))
    assert "\n" not in text
    assert "ValueError: boom" in json.loads(text)["traceback"]


def test_outside_a_request_there_is_no_request_id() -> None:
    assert "request_id" not in json.loads(JsonFormatter().format(record("swept 3 drafts")))
    assert TextFormatter().format(record("swept 3 drafts")).endswith("chat_media.test: swept 3 drafts")


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_text_and_json_name_the_request(formatter: logging.Formatter) -> None:
    token = request_id.set("req-2")
    try:
        assert "req-2" in formatter.format(record("GET /x 200"))
    finally:
        request_id.reset(token)
