"""Schema v1: what the model must return (``SummaryDraft``) and what we store (``EventSummary``).

Two models on purpose: the model never fills offsets, provenance or grounding — our code does.
The ``Field(description=...)`` texts are the model's instructions; keep them short and literal,
a 135M-parameter model reads them too.

Topics use IPTC Media Topic top-level subjects; armed-conflict events use ACLED event types.
This module imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

SCHEMA_VERSION = "1.0"

# The check SummaryDraft runs after parsing (grounding, in practice), for the current call.
# A context variable, not instructor's ``context=``: instructor renders every message as a
# Jinja template when given a context, which would let article text like "{{ ... }}" act.
active_check: ContextVar[Callable[[Any], None] | None] = ContextVar("summarizer_active_check", default=None)

# IPTC Media Topic top-level subjects (label -> code).
IPTC_TOPICS: dict[str, str] = {
    "arts, culture, entertainment and media": "medtop:01000000",
    "crime, law and justice": "medtop:02000000",
    "disaster, accident and emergency incident": "medtop:03000000",
    "economy, business and finance": "medtop:04000000",
    "education": "medtop:05000000",
    "environment": "medtop:06000000",
    "health": "medtop:07000000",
    "human interest": "medtop:08000000",
    "labour": "medtop:09000000",
    "lifestyle and leisure": "medtop:10000000",
    "politics": "medtop:11000000",
    "religion": "medtop:12000000",
    "science and technology": "medtop:13000000",
    "society": "medtop:14000000",
    "sport": "medtop:15000000",
    "conflict, war and peace": "medtop:16000000",
    "weather": "medtop:17000000",
}

Topic = Literal[
    "arts, culture, entertainment and media",
    "crime, law and justice",
    "disaster, accident and emergency incident",
    "economy, business and finance",
    "education",
    "environment",
    "health",
    "human interest",
    "labour",
    "lifestyle and leisure",
    "politics",
    "religion",
    "science and technology",
    "society",
    "sport",
    "conflict, war and peace",
    "weather",
]

# ACLED event types, for armed-conflict and political-violence events only.
AcledEventType = Literal[
    "battles",
    "explosions/remote violence",
    "violence against civilians",
    "protests",
    "riots",
    "strategic developments",
]
Modality = Literal["reported", "historical", "future", "hypothetical", "negated"]
Qualifier = Literal["exact", "at least", "about", "up to", "more than", "fewer than"]
ClaimStatus = Literal["confirmed", "claimed", "disputed", "denied", "unverified"]
SourceKind = Literal["wire agency", "official", "military", "witness", "ngo", "media", "expert", "other"]
Alignment = Literal["exact", "normalized", "fuzzy", "unaligned"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- LLM-facing


class When(_Strict):
    text: str = Field(description="The time words exactly as the article writes them, e.g. 'on Friday'.")
    date: str | None = Field(
        default=None, description="ISO date YYYY-MM-DD only if the article makes it certain, else null."
    )


class Where(_Strict):
    place: str = Field(description="The place name exactly as written in the article.")
    country: str | None = Field(default=None, description="Country of the place, if the article says.")


class Casualties(_Strict):
    killed: str | None = Field(
        default=None, description="Killed count as written, e.g. 'at least eight'; null if not given."
    )
    injured: str | None = Field(default=None, description="Injured count as written; null if not given.")


class Event(_Strict):
    what: str = Field(description="One sentence: what happened, in your own words.")
    evidence: str = Field(description="The sentence from the article that reports it, copied exactly.")
    category: Topic = Field(description="IPTC Media Topic that fits this event best.")
    event_type: AcledEventType | None = Field(
        default=None, description="For armed conflict or political violence only; otherwise null."
    )
    modality: Modality = Field(
        description="reported = happened now; historical = background; future = planned; "
        "hypothetical = might happen; negated = said not to have happened."
    )
    when: When | None = None
    where: Where | None = None
    actors: list[str] = Field(
        default_factory=list, max_length=6, description="People, groups or states named as doing it."
    )
    casualties: Casualties | None = None


class KeyFigure(_Strict):
    text: str = Field(
        description="The number exactly as written in the article, e.g. '6,266' or 'tens of thousands'."
    )
    value: float | None = Field(default=None, description="The number as digits, if it is a number.")
    unit: str | None = Field(default=None, description="Unit, e.g. 'people', 'km', 'USD'.")
    counts: str = Field(description="What the number counts, e.g. 'people evacuated'.")
    qualifier: Qualifier = Field(default="exact", description="How precise the article says it is.")
    source_text: str = Field(
        description="The sentence from the article that contains the number, copied exactly."
    )
    given_by: str | None = Field(default=None, description="Who gives the figure, as named in the article.")


class Quote(_Strict):
    text: str = Field(
        description="Words copied exactly from inside quotation marks in the article. Never invent."
    )
    speaker: str = Field(description="Who said it, as named in the article.")
    speaker_role: str | None = Field(default=None, description="Speaker's role, e.g. 'mayor', 'resident'.")
    kind: Literal["direct", "indirect"] = Field(
        default="direct",
        description="direct = exact words in quotation marks; indirect = reported speech.",
    )


class Claim(_Strict):
    statement: str = Field(description="The claim, in one short sentence.")
    claimant: str = Field(description="Who makes the claim, as named in the article.")
    status: ClaimStatus = Field(
        description="confirmed, claimed, disputed, denied, or unverified "
        "('could not immediately verify' means unverified)."
    )
    evidence: str = Field(description="The sentence from the article that states the claim, copied exactly.")


class Source(_Strict):
    name: str = Field(description="Who the article relies on, as named, e.g. 'Reuters'.")
    kind: SourceKind


class SummaryDraft(_Strict):
    """What the model returns. Everything here is checked against the article afterwards."""

    _checked_on_parse: ClassVar[bool] = True

    headline: str = Field(description="Neutral headline, at most 15 words.")
    brief: str = Field(description="Two or three sentences summarising the article.")
    topics: list[Topic] = Field(min_length=1, max_length=3, description="1 to 3 IPTC Media Topics.")
    events: list[Event] = Field(min_length=1, max_length=6, description="What happened: 1 to 6 events.")
    key_figures: list[KeyFigure] = Field(default_factory=list, max_length=8)
    quotes: list[Quote] = Field(default_factory=list, max_length=8)
    claims: list[Claim] = Field(default_factory=list, max_length=6)
    sources: list[Source] = Field(default_factory=list, max_length=8)

    @model_validator(mode="after")
    def _checked(self, info: ValidationInfo) -> SummaryDraft:
        # Grounding lives outside the schema; the caller passes it in the validation context,
        # so a failed check becomes a specific re-ask through instructor.
        # Repeated topics are noise, not an error worth a re-ask.
        self.topics = list(dict.fromkeys(self.topics))
        check = (info.context or {}).get("check") or active_check.get()
        if check is not None and self._checked_on_parse:
            check(self)
        return self


# --------------------------------------------------------------------------- stored record


class Summary(SummaryDraft):
    """The draft after grounding: only supported items remain, so events may be empty."""

    _checked_on_parse: ClassVar[bool] = False  # built by grounding itself

    events: list[Event] = Field(default_factory=list, max_length=6)


class Span(_Strict):
    """Where an item sits in ``EventSummary.article.text``: ``[start, end)`` in code points."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    alignment: Alignment


class Grounded(_Strict):
    """One grounded item of the draft: which list, which index, where its evidence is."""

    field: str = Field(description="Dotted path of the item, e.g. 'quotes[0].text'.")
    value: str
    span: Span


class Rejected(_Strict):
    field: str
    value: str
    reason: str


class GroundingStats(_Strict):
    items: int = 0
    exact: int = 0
    normalized: int = 0
    fuzzy: int = 0
    rejected: int = 0


class ArticleMeta(_Strict):
    id: str
    source_path: str | None = None
    title: str | None = None
    url: str | None = None
    published_at: str | None = None
    publisher: str | None = None
    sha256: str = Field(description="sha256 of the normalised article text below.")
    chars: int
    truncated: bool = Field(description="True when the text was cut to fit the model's context.")
    text: str = Field(description="The normalised article text all spans refer to.")


class Usage(_Strict):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Provenance(_Strict):
    backend: str = Field(description="'embedded' or the base URL host.")
    base_url: str
    model: str
    structured_output: str
    prompt_version: str
    schema_version: str = SCHEMA_VERSION
    attempts: int = Field(description="Model calls made, re-asks and transport retries included.")
    usage: Usage
    latency_s: float
    created_at: str


class Injection(_Strict):
    text: str
    start: int
    end: int


class EventSummary(_Strict):
    """The stored, validated record for one article."""

    key: str | None = Field(
        default=None,
        description="Batch ledger key: sha256 over normalised text, prompt version, schema "
        "version and model. Same key, same work: a rerun never pays for it twice.",
    )
    schema_version: str = SCHEMA_VERSION
    article: ArticleMeta
    summary: Summary
    grounding: list[Grounded] = Field(default_factory=list)
    rejected: list[Rejected] = Field(default_factory=list)
    stats: GroundingStats = Field(default_factory=GroundingStats)
    suspected_injection: list[Injection] = Field(default_factory=list)
    needs_review: bool = False
    provenance: Provenance


def record_json_schema() -> dict[str, object]:
    """JSON Schema of the stored record, as exported to ``schemas/``."""
    schema = EventSummary.model_json_schema()
    schema["$id"] = f"https://summarizer.invalid/schemas/event_summary.v{SCHEMA_VERSION}.json"
    return schema
