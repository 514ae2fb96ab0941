"""Client-side rate limits every request of a run passes: requests/min and tokens/min, with a
request's tokens counted as providers reserve them."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import orjson
from aiolimiter import AsyncLimiter

from summarizer.tokens import estimate_tokens

MESSAGE_OVERHEAD_TOKENS = 4  # role and separators of one chat message (OpenAI's own count)


def request_tokens(request: httpx2.Request, count: Callable[[str], int] = estimate_tokens) -> int:
    """Tokens a provider reserves against tokens/min for ``request``, before it runs.

    Providers (OpenAI, Azure) count the prompt, estimated, plus the whole completion budget
    (``max_completion_tokens`` or ``max_tokens``, times ``n``): the answer's tokens are reserved
    whether or not the model writes them. The prompt is what the model reads, the messages and
    tool definitions, counted by ``count`` (the endpoint's ``tokens.TokenCounter``; the high
    estimate by default); a body that is not a chat request counts as its text.
    """
    try:
        body = orjson.loads(request.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return count(request.content.decode("utf-8", "replace"))
    prompt = 0
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        prompt += MESSAGE_OVERHEAD_TOKENS
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            prompt += count(content)
        elif content is not None:  # content parts
            prompt += count(orjson.dumps(content).decode())
        if message.get("tool_calls"):  # an earlier answer carried back in a re-ask
            prompt += count(orjson.dumps(message["tool_calls"]).decode())
    for key in ("tools", "functions"):
        if body.get(key):
            prompt += count(orjson.dumps(body[key]).decode())
    budget = body.get("max_completion_tokens", body.get("max_tokens"))
    n = body.get("n")
    completion = budget if isinstance(budget, int) else 0
    return prompt + completion * (n if isinstance(n, int) and n > 0 else 1)


class RateGate:
    """Client-side requests/min and tokens/min limits, shared by every request of a run.

    Requests are paced, not burst: the request bucket holds one request, so a server counting
    over any sliding window (a minute, or a few seconds) never sees more than its limit; the
    token bucket holds one large request's worth (8192 tokens, or the minute's budget if that is
    smaller). A request is charged ``request_tokens`` (prompt + completion budget, as providers
    count); one larger than the bucket takes it several times over, one larger than the whole
    minute's budget is charged that budget (the provider refuses it anyway). Both run at 98 %.
    """

    def __init__(
        self, rpm: float | None, tpm: float | None, count: Callable[[str], int] = estimate_tokens
    ) -> None:
        self._count = count
        self._rpm = self._bucket(rpm * 0.98, 1.0) if rpm else None
        self._tpm_per_minute = tpm * 0.98 if tpm else 0.0
        self._tpm = self._bucket(self._tpm_per_minute, min(8192.0, self._tpm_per_minute)) if tpm else None

    @staticmethod
    def _bucket(per_minute: float, capacity: float) -> AsyncLimiter:
        return AsyncLimiter(capacity, 60.0 * capacity / per_minute)

    async def __call__(self, request: httpx2.Request) -> None:
        if self._rpm is not None:
            await self._rpm.acquire()
        if self._tpm is not None:
            tokens = min(float(request_tokens(request, self._count)), self._tpm_per_minute)
            while tokens > 0:
                chunk = min(tokens, self._tpm.max_rate)
                await self._tpm.acquire(chunk)
                tokens -= chunk
