"""A provider's Batch API (OpenAI's ``/v1/files`` and ``/v1/batches``, also served by Azure
OpenAI, Groq and Together) through the openai SDK over our retrying transport: upload a request
file, create its batch once, poll it, download what it wrote.

Never twice: ``find`` looks a file's batch up before one is created for it, so a run killed
between "created" and "noted" resumes with that batch instead of paying for a second one.
Downloads are retried (a provider's file store answers 403/404/5xx for a while after a batch
ends); everything else is retried by the transport like any request (429, 5xx, timeouts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import httpx2
import openai
from openai.types import Batch
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from summarizer.errors import ConfigurationError, SummarizerError
from summarizer.llm.replies import Endpoint, map_error
from summarizer.settings import Settings
from summarizer.transport import AsyncRetryingTransport, RetryPolicy

CHAT_PATH: Final = "/v1/chat/completions"
COMPLETION_WINDOW: Final = "24h"
TERMINAL = frozenset({"completed", "expired", "failed", "cancelled"})
DOWNLOAD_ATTEMPTS = 5
LIST_PAGES = 20  # batches looked through for a file's batch: the newest 2,000


def _download_failure(exc: BaseException) -> bool:
    """Worth another try: the file store not ready yet (403/404), a server error, the network."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (403, 404, 408, 409, 429) or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError)


class ProviderBatches:
    """One provider's Files and Batches APIs. ``await aclose()`` when done."""

    def __init__(
        self,
        endpoint: Endpoint,
        settings: Settings,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        download_wait: float = 2.0,
    ) -> None:
        self.endpoint = endpoint
        policy = RetryPolicy(max_retries=settings.max_retries, max_wait=settings.max_retry_wait)
        http = httpx2.AsyncClient(
            transport=AsyncRetryingTransport(transport or httpx2.AsyncHTTPTransport(), policy),
            timeout=httpx2.Timeout(max(settings.timeout, 300.0), connect=settings.connect_timeout),
        )
        self._sdk = openai.AsyncOpenAI(
            base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0, http_client=http
        )
        self._download_wait = download_wait

    def _error(self, exc: Exception, doing: str) -> SummarizerError:
        if isinstance(exc, openai.NotFoundError | openai.BadRequestError) and doing == "upload":
            return ConfigurationError(
                f"{self.endpoint.base_url} refused a Batch API file ({exc.status_code}: "
                f"{' '.join(str(exc.message).split())[:160]}); it may have no Batch API: "
                "use --via local, or --export for vllm run-batch"
            )
        return map_error(exc, self.endpoint)

    async def upload(self, path: Path) -> str:
        """Upload a request file (``purpose="batch"``); its file id."""
        try:
            # An open file, not a path: the SDK would read a path whole into memory (up to 200
            # MB, then copied into the body); an open file is streamed (and rewound on a retry).
            with path.open("rb") as fh:
                uploaded = await self._sdk.files.create(file=(path.name, fh), purpose="batch")
        except openai.OpenAIError as exc:
            raise self._error(exc, "upload") from None
        return uploaded.id

    async def find(self, file_id: str) -> Batch | None:
        """The batch made from ``file_id`` already, if any (a run killed after creating it)."""
        try:
            pages = 0
            page = await self._sdk.batches.list(limit=100)
            while True:
                for batch in page.data:
                    if batch.input_file_id == file_id:
                        return batch
                pages += 1
                if pages >= LIST_PAGES or not page.has_next_page():
                    return None
                page = await page.get_next_page()
        except openai.OpenAIError as exc:
            raise self._error(exc, "list") from None

    async def create(self, file_id: str, metadata: dict[str, str]) -> Batch:
        try:
            return await self._sdk.batches.create(
                input_file_id=file_id,
                endpoint=CHAT_PATH,
                completion_window=COMPLETION_WINDOW,
                metadata=metadata,
            )
        except openai.OpenAIError as exc:
            raise self._error(exc, "create") from None

    async def retrieve(self, batch_id: str) -> Batch:
        try:
            return await self._sdk.batches.retrieve(batch_id)
        except openai.OpenAIError as exc:
            raise self._error(exc, "retrieve") from None

    async def download(self, file_id: str) -> bytes:
        """A file's content, retried while the provider's store is not ready."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(_download_failure),
            stop=stop_after_attempt(DOWNLOAD_ATTEMPTS),
            wait=wait_exponential(multiplier=self._download_wait, max=60),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    content = await self._sdk.files.content(file_id)
                    data = content.content
        except openai.OpenAIError as exc:
            raise self._error(exc, "download") from None
        return data

    async def aclose(self) -> None:
        await self._sdk.close()


def batch_summary(batch: Batch) -> dict[str, Any]:
    """What a run keeps of a batch: its status, files and counts."""
    counts = batch.request_counts
    return {
        "status": batch.status,
        "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id,
        "counts": {"total": counts.total, "completed": counts.completed, "failed": counts.failed}
        if counts is not None
        else None,
        "errors": [f"{e.code or 'error'}: {e.message or ''}".strip() for e in (batch.errors.data or [])]
        if batch.errors is not None
        else [],
    }
