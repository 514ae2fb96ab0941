"""Schema v2: what the model returns (``PointerDraft``: ids and choices) and what we store
(``EventSummary``).

Two models on purpose: the model never fills offsets, provenance or grounding — our code does.
The ``Field(description=...)`` texts of ``PointerDraft`` are the model's instructions; keep them
short and literal, a 1.5B-parameter model reads them. Records of schema 1.0, 2.0 and 2.1
validate as 2.2 (the v2 fields, 2.1's ``usage.cached_tokens`` and 2.2's ``Quote.attribution``
are optional additions); their ``provenance.schema_version`` says which.

Topics use IPTC Media Topic top-level subjects; armed-conflict events use ACLED event types.
This module imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

SCHEMA_VERSION = "2.2"

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


# --------------------------------------------------------------------------- LLM-facing (v2)
#
# The model points, the code copies. The article is shown as numbered sentences (S1, S2, ...),
# its quotations (Q1, ...) and numbers (N1, ...) are found in code; the model answers with those
# ids. ``summarizer.answer`` narrows every id and speaker field to the ids and names of the one
# article (enums), so constrained decoding cannot produce an id that does not exist or a
# speaker the article does not name near the quotation. These static classes are the template:
# their descriptions are the model's instructions (the field guide), identical for every article.

SentenceId = str
NumberId = str


class EventPick(_Strict):
    what: str = Field(
        max_length=110,
        description="What happened, in at most 15 words, using that sentence's names and numbers.",
    )
    sentence: SentenceId = Field(description="Id of the sentence that reports the event, e.g. 'S4'.")
    category: Topic = Field(description="IPTC Media Topic that fits this event best.")
    event_type: AcledEventType | None = Field(
        default=None, description="For armed conflict or political violence only; otherwise null."
    )
    modality: Modality = Field(
        description="reported = happened now; historical = background; future = planned; "
        "hypothetical = might happen; negated = said not to have happened."
    )
    # Up to summarize-v5 the model wrote an event's time words; from v6 our code reads them from
    # the cited sentence and its paragraph (``grounding.labels``), which did as well on the dev
    # set. Kept for stored answers; out of the answer schema and the prompt's field guide.
    when: SkipJsonSchema[str | None] = Field(default=None, max_length=40)
    where: str | None = Field(
        default=None, max_length=40, description="Place name copied from that sentence, or null."
    )
    actors: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=2, description="Names from that sentence of who did it."
    )


class ClaimPick(_Strict):
    statement: str = Field(
        max_length=120, description="The claim in one short sentence, in that sentence's words."
    )
    sentence: SentenceId = Field(description="Id of the sentence that states the claim.")
    claimant: str = Field(max_length=50, description="Who makes the claim, as named in the article.")
    status: ClaimStatus = Field(
        description="confirmed, claimed, disputed, denied, or unverified "
        "('could not immediately verify' means unverified)."
    )


class SourcePick(_Strict):
    name: str = Field(max_length=50, description="Who the article relies on, as named, e.g. 'Reuters'.")
    kind: SourceKind


_V4_FIGURE = {"number", "counts"}  # a figure as prompts up to summarize-v4 asked for it


class PointerDraft(_Strict):
    """What the model returns (schema v2). Every id and name is checked by our code afterwards."""

    headline: str = Field(
        max_length=110, description="Neutral headline, at most 15 words, from the article's facts."
    )
    brief: str = Field(max_length=240, description="Two short sentences summarising the article.")
    topics: list[Topic] = Field(min_length=1, max_length=3, description="1 to 3 IPTC Media Topics.")
    figures: list[NumberId] = Field(
        default_factory=list,
        max_length=6,
        description="The key numbers: their ids from the numbers list, e.g. 'N2'.",
    )
    quotes: dict[str, str] = Field(
        default_factory=dict,
        description="For every quotation id (Q1, Q2, ...): who said it, one of the names offered "
        "for it, or 'unnamed'.",
    )
    # Answers up to summarize-v5 wrote up to 3 events; the answer schema asks for at most
    # ``answer.MAX_EVENTS`` (a third event rarely held to its sentence).
    events: list[EventPick] = Field(
        min_length=1, max_length=3, description="The main things that happened: 1 or 2 events."
    )
    claims: list[ClaimPick] = Field(
        default_factory=list, max_length=3, description="Statements the article attributes to someone."
    )
    sources: list[SourcePick] = Field(default_factory=list, max_length=4)

    @field_validator("figures", mode="before")
    @classmethod
    def _figure_ids(cls, value: Any) -> Any:
        # Answers to prompts up to summarize-v4 (stored in records and ledgers) wrote each figure
        # as {"number": id, "counts": words}; what a number counts is now read by our code.
        if isinstance(value, list):
            return [v.get("number") if isinstance(v, dict) and set(v) == _V4_FIGURE else v for v in value]
        return value

    @model_validator(mode="after")
    def _checked(self, info: ValidationInfo) -> PointerDraft:
        # Grounding lives outside the schema; a failed strict check becomes a specific re-ask
        # through instructor. Repeated topics are noise, not an error worth a re-ask.
        self.topics = list(dict.fromkeys(self.topics))
        check = (info.context or {}).get("check") or active_check.get()
        if check is not None:
            check(self)
        return self


# --------------------------------------------------------------------------- stored record


class When(_Strict):
    text: str = Field(description="The time words exactly as the article writes them, e.g. 'on Friday'.")
    date: str | None = Field(default=None, description="ISO date (or month, year) read against the dateline.")


class Where(_Strict):
    place: str = Field(description="The place name exactly as written in the article.")
    country: str | None = None


class Casualties(_Strict):
    killed: str | None = None
    injured: str | None = None


class Event(_Strict):
    what: str = Field(
        description="What happened, in the model's words checked against the evidence; where those "
        "words do not hold to it, the evidence sentence itself."
    )
    evidence: str = Field(description="The article's sentence that reports it, copied by our code.")
    sentence: str | None = Field(default=None, description="Id of that sentence (v2).")
    category: Topic
    event_type: AcledEventType | None = None
    modality: Modality
    when: When | None = None
    where: Where | None = None
    actors: list[str] = Field(default_factory=list)
    casualties: Casualties | None = None


class KeyFigure(_Strict):
    text: str = Field(description="The number as the article writes it, qualifier included.")
    value: float | None = Field(default=None, description="Its value; null for vague amounts.")
    unit: str | None = None
    counts: str
    qualifier: Qualifier = "exact"
    source_text: str = Field(description="The article's sentence that contains the number.")
    given_by: str | None = None
    number: str | None = Field(default=None, description="Id of the number (v2).")


AttributionMethod = Literal["clause", "continuation", "pronoun", "model", "unnamed"]


class QuoteAttribution(_Strict):
    """How the speaker was settled, with the words that say so (2.2).

    ``clause``: named in the quotation's own reporting clause ("…," said X); ``continuation``:
    the quotation goes on from an earlier one, or from the paragraph's reported speaker, whose
    clause this is; ``pronoun``: the clause says "he"/"she" and the speaker is the person it
    agrees with (``speaker_start``/``speaker_end`` point at that person's mention);
    ``model``: no clause settled it and the model chose among the names near it; ``unnamed``:
    nobody could be named (a clause may still be shown, "he said")."""

    method: AttributionMethod
    clause: str | None = Field(default=None, description="The reporting clause as the article writes it.")
    clause_start: int | None = Field(default=None, ge=0)
    clause_end: int | None = Field(default=None, ge=0)
    speaker_start: int | None = Field(default=None, ge=0, description="The words that name the speaker.")
    speaker_end: int | None = Field(default=None, ge=0)


class Quote(_Strict):
    text: str = Field(description="Words inside quotation marks, copied by our code.")
    speaker: str = Field(description="Who said it, as named near it in the article, or 'unnamed'.")
    speaker_role: str | None = None
    kind: Literal["direct", "indirect"] = "direct"
    id: str | None = Field(default=None, description="Id of the quotation (v2).")
    attribution: QuoteAttribution | None = Field(
        default=None, description="How the speaker was settled (2.2)."
    )


class Claim(_Strict):
    statement: str
    claimant: str
    status: ClaimStatus
    evidence: str = Field(description="The article's sentence that states the claim, copied by our code.")
    sentence: str | None = None


class Source(_Strict):
    name: str
    kind: SourceKind


class Summary(_Strict):
    """The answer after grounding: only supported items remain, text copied from the article.

    ``quotes`` holds every quotation of the article (four words or more inside quotation
    marks) with its speaker or "unnamed": recall does not depend on the model.
    """

    headline: str
    brief: str
    topics: list[Topic] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    key_figures: list[KeyFigure] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    claims: list[Claim] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)


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
    cached_tokens: int = Field(
        default=0, description="Prompt tokens the server reused from its cache (not evaluated again)."
    )


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
    needs_review: bool = Field(
        default=False, description="True exactly when `review` lists something (2.2; before: any rejection)."
    )
    review: list[str] = Field(
        default_factory=list,
        description="What the brief shows that an editor must check (2.2): a stand-in, prose naming what "
        "the article does not, a speaker the model chose, a truncated article, a withheld passage.",
    )
    provenance: Provenance


def record_json_schema() -> dict[str, object]:
    """JSON Schema of the stored record, as exported to ``schemas/``."""
    schema = EventSummary.model_json_schema()
    schema["$id"] = f"https://summarizer.invalid/schemas/event_summary.v{SCHEMA_VERSION}.json"
    return schema
