"""The embedded server's saved prompt prefix: its KV state kept on disk between runs.

Every request starts with the same system message (rules and field guide, about 1,000 tokens),
which llama.cpp must evaluate before it reads the article: on 2 CPU cores that is half the
prompt time of a brief. Within one server run its prompt cache reuses that prefix; across runs
(every ``summarizer brief`` starts a new server) the state is saved with llama.cpp's slot
actions (``POST /slots/0?action=save|restore``, enabled by ``--state-dir``) and restored at the
next start, so only the article is evaluated.

The file is named for everything that makes its KV values valid: the model file (name and
size), the llama.cpp build (xllamacpp's version) and the prefix text. A changed prompt or model
therefore never restores a stale state; files of older prompts for the same model are pruned
when a new one is saved. The state is saved once per server, after the first answer (the slot
then holds that request's tokens; the next run reuses the part its prompt shares), to a
temporary name renamed into place, so an interrupted save never leaves a file that looks
complete. Every failure here costs speed only: a brief never fails because of this cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import os
import re
from pathlib import Path

import httpx2

log = logging.getLogger(__name__)
SUFFIX = ".kv"
_TIMEOUT = httpx2.Timeout(60.0, connect=2.0)  # a save writes tens of MB


def _llama_build() -> str:
    try:
        return importlib.metadata.version("xllamacpp")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def state_name(model_path: Path, prefix: str) -> str:
    """``<model stem>-<key>.kv``; the key covers model file, llama.cpp build and prefix text."""
    try:
        size = model_path.stat().st_size
    except OSError:
        size = -1
    digest = hashlib.sha256(
        "\0".join([model_path.name, str(size), _llama_build(), prefix]).encode("utf-8")
    ).hexdigest()
    return f"{model_path.stem}-{digest[:20]}{SUFFIX}"


class PrefixState:
    """Restore and save one server's prompt-prefix state in ``folder``.

    ``server_url`` is the server's root (``http://127.0.0.1:PORT``); the server must have been
    started with ``folder`` as its ``--state-dir``.
    """

    def __init__(self, folder: Path, server_url: str, model_path: Path, prefix: str) -> None:
        self.folder = folder
        self.server_url = server_url
        self.model_path = model_path
        self.name = state_name(model_path, prefix)
        self.restored_tokens = 0  # tokens of KV state loaded by ``restore``
        self._save_due = True  # at most one save per server run

    @property
    def save_due(self) -> bool:
        """True until this server run has saved (or restored) its state."""
        return self._save_due

    @property
    def path(self) -> Path:
        return self.folder / self.name

    def _action(self, action: str, filename: str) -> dict[str, object] | None:
        try:
            response = httpx2.post(
                f"{self.server_url}/slots/0", params={"action": action}, json={"filename": filename},
                timeout=_TIMEOUT,
            )  # fmt: skip
        except httpx2.HTTPError as exc:
            log.debug("prompt state %s failed: %s", action, exc)
            return None
        if response.status_code != 200:
            log.debug("prompt state %s refused: %s %s", action, response.status_code, response.text[:200])
            return None
        with contextlib.suppress(ValueError):
            body = response.json()
            return body if isinstance(body, dict) else None
        return None

    def restore(self) -> bool:
        """Load the saved state into the server's slot; True when there was one and it loaded."""
        if not self.path.is_file():
            return False
        answer = self._action("restore", self.name)
        if answer is None:  # unreadable or from another build: drop it, the next save replaces it
            with contextlib.suppress(OSError):
                self.path.unlink()
            return False
        restored = answer.get("n_restored")
        self.restored_tokens = restored if isinstance(restored, int) else 0
        self._save_due = False  # the slot holds our prefix already
        return True

    def save(self) -> bool:
        """After an answer: save the slot's state once per server run, unless it was restored."""
        if not self._save_due:
            return False
        self._save_due = False
        partial = f"partial-{os.getpid()}-{self.name}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.debug("prompt state folder %s: %s", self.folder, exc)
            return False
        saved = self._action("save", partial) is not None
        try:
            if saved:
                os.replace(self.folder / partial, self.path)
                self._prune()
        except OSError as exc:
            log.debug("prompt state save %s: %s", self.path, exc)
            saved = False
        finally:
            with contextlib.suppress(OSError):
                (self.folder / partial).unlink()
        return saved

    def _prune(self) -> None:
        """Remove states of older prompts for this model (each is tens of MB), and partial files
        of saves whose process is gone."""
        stem = re.escape(self.model_path.stem)
        ours = re.compile(rf"^{stem}-[0-9a-f]{{20}}{re.escape(SUFFIX)}$")
        partial = re.compile(rf"^partial-(?P<pid>\d+)-{stem}-[0-9a-f]{{20}}{re.escape(SUFFIX)}$")
        for old in self.folder.iterdir():
            stale = ours.match(old.name) and old.name != self.name
            if (m := partial.match(old.name)) and not _alive(int(m["pid"])):
                stale = True
            if stale:
                with contextlib.suppress(OSError):
                    old.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours to signal
    return True
