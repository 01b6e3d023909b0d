"""The base protocol's framing, read strictly, for `dslc lsp` (replacing pygls' own
loop, which skips a malformed header and then reads every later message out of step,
alive but deaf).

Each message is header lines (`Name: value`), a blank line, and `Content-Length` bytes
of JSON. A malformed header, a missing or oversized length, ends the session with
`FramingError`: the server exits with status 1 and the editor starts a new one. A body
that is not a valid message is skipped; if it was a request (it has an `id`), it is
answered with the JSON-RPC error, "Invalid Params" for parameters that do not fit the
method (a position with a negative line), so that every request gets a response.
"""

from __future__ import annotations

import json
import logging
import re

from pygls.exceptions import JsonRpcException, JsonRpcParseError

log = logging.getLogger(__name__)

HEADER = re.compile(rb"([A-Za-z][A-Za-z0-9-]*):[ \t]*([^\r\n]*)\r\n")
MAX_MESSAGE_BYTES = 64 << 20


class FramingError(Exception):
    """The input is not a stream of base-protocol messages."""


async def read_body(reader) -> bytes | None:
    """The next message's body, or None at the end of the input."""
    length = None
    while True:
        line = await reader.readline()
        if not line:
            return None
        if line == b"\r\n":
            if length is None:
                raise FramingError("a message without a Content-Length header")
            body = await reader.readexactly(length)
            return body if len(body) == length else None
        match = HEADER.fullmatch(line)
        if match is None:
            raise FramingError(f"malformed header line {line[:80]!r}")
        if match[1].lower() == b"content-length":
            value = match[2].strip()
            if not value.isdigit() or int(value) > MAX_MESSAGE_BYTES:
                raise FramingError(f"Content-Length {value[:20]!r} is not a length up to "
                                   f"{MAX_MESSAGE_BYTES} bytes")
            length = int(value)


async def serve_messages(protocol, stop_event, reader) -> None:
    """Reads and dispatches messages until the input ends, `stop_event` is set, or the
    framing breaks (`FramingError`)."""
    while not stop_event.is_set():
        body = await read_body(reader)
        if body is None:
            return
        try:
            message = json.loads(body, object_hook=protocol.structure_message)
        except JsonRpcException as error:
            answer_error(protocol, body, error)
            continue
        except ValueError:
            answer_error(protocol, body, JsonRpcParseError())
            continue
        try:
            protocol.handle_message(message)
        except Exception:  # noqa: BLE001 - as pygls: one bad message must not end it
            log.exception("unable to handle a message")


def answer_error(protocol, body: bytes, error: JsonRpcException) -> None:
    """Answers the request in `body` (when it is one) with `error`."""
    try:
        raw = json.loads(body)
    except ValueError:
        raw = None
    if isinstance(raw, dict) and "method" in raw and isinstance(raw.get("id"), (int, str)):
        protocol._send_response(raw["id"], error=error.to_response_error())
    else:
        log.warning("skipped a message that is not valid: %s", error)
