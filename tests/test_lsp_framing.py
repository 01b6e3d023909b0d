"""`dslc lsp` over raw stdio, as an editor's client would drive it when things go wrong:
a broken frame ends the session with status 1 (the editor restarts the server), a
body that is not a message is skipped, every request is answered (an error for
parameters that do not fit), a document larger than 1 MiB is not analysed, and an
import of a pipe does not block the server."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

TIMEOUT = 30


class RawClient:
    def __init__(self):
        script = Path(sys.executable).parent / "dslc"
        command = [str(script)] if script.exists() else [sys.executable, "-m",
                                                         "dslc.compiler.cli"]
        self.process = subprocess.Popen([*command, "lsp"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buffer = b""

    def send_bytes(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.send_bytes(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def receive(self) -> dict | None:
        """The next message, or None when the server closed its output."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            if b"\r\n\r\n" in self.buffer:
                head, rest = self.buffer.split(b"\r\n\r\n", 1)
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                if len(rest) >= length:
                    self.buffer = rest[length:]
                    return json.loads(rest[:length])
            remaining = deadline - time.monotonic()
            assert remaining > 0, "the server did not answer"
            ready, _, _ = select.select([self.process.stdout], [], [], remaining)
            chunk = os.read(self.process.stdout.fileno(), 1 << 16) if ready else b""
            if ready and not chunk:
                return None
            self.buffer += chunk

    def response(self, request_id) -> dict:
        while (message := self.receive()) is not None:
            if message.get("id") == request_id and "method" not in message:
                return message
        raise AssertionError("the server closed before answering")

    def notification(self, method: str) -> dict:
        while (message := self.receive()) is not None:
            if message.get("method") == method:
                return message
        raise AssertionError(f"the server closed before sending {method}")

    def initialize(self) -> None:
        self.send({"id": 1, "method": "initialize",
                   "params": {"processId": None, "rootUri": None, "capabilities": {}}})
        assert "result" in self.response(1)
        self.send({"method": "initialized", "params": {}})

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "dslc", "version": 1, "text": text}}})
        return uri

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()


@pytest.fixture
def server():
    client = RawClient()
    yield client
    client.close()


@pytest.mark.parametrize("frame", [
    b"Content-Length: abc\r\n\r\n{}",
    b"Content-Length: 99999999999\r\n\r\n",
    b"garbage without a header\r\n",
    b"\r\n{}",
])
def test_a_broken_frame_ends_the_session_with_status_1(server, frame):
    server.send_bytes(frame)
    server.send({"id": 1, "method": "initialize", "params": {"capabilities": {}}})
    assert server.receive() is None
    assert server.process.wait(TIMEOUT) == 1
    assert b"closing the connection" in server.process.stderr.read()


def test_a_body_that_is_not_a_message_is_skipped(server):
    server.send_bytes(b"Content-Length: 9\r\n\r\nnot json!")
    server.initialize()
    server.send({"id": 7, "method": "shutdown"})
    assert server.response(7).get("result") is None


def test_every_request_is_answered_even_with_invalid_params(server, tmp_path):
    server.initialize()
    uri = server.open(tmp_path / "a.nn", "fn f(x: f32[]) -> f32[] = x\n")
    server.notification("textDocument/publishDiagnostics")
    server.send({"id": 2, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": uri}, "position": {"line": -5, "character": "x"}}})
    assert server.response(2)["error"]["code"] == -32602
    server.send({"id": 3, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": uri}, "position": {"line": 0, "character": 3}}})
    assert "result" in server.response(3)


def test_a_document_over_the_size_limit_is_not_analysed(server, tmp_path):
    server.initialize()
    text = "fn f(x) = x\n" * 100_000  # 1.2 MB
    server.open(tmp_path / "big.nn", text)
    [diagnostic] = server.notification("textDocument/publishDiagnostics")["params"]["diagnostics"]
    assert "larger than 1024 KiB" in diagnostic["message"] and diagnostic["severity"] == 2


def test_importing_a_pipe_does_not_block(server, tmp_path):
    os.mkfifo(tmp_path / "pipe.nn")
    server.initialize()
    server.open(tmp_path / "main.nn", 'import "pipe.nn"\nfn f(x: f32[]) -> f32[] = x\n')
    diagnostics = server.notification("textDocument/publishDiagnostics")["params"]["diagnostics"]
    assert any("not a regular file" in d["message"] for d in diagnostics)
