"""What the speaker rules read and return: the spans they are given (quotation regions,
sentences, names) and the clauses, phrases and attributions they find."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Method = Literal["clause", "continuation", "pronoun", "model", "unnamed"]


class Span(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


class Sentence(Span, Protocol):
    @property
    def paragraph(self) -> int: ...


class Name(Span, Protocol):
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Region:
    """One quotation: inner span ``[start, end)`` with its sentence and paragraph index."""

    start: int
    end: int
    sentence: int
    paragraph: int


@dataclass(frozen=True)
class Clause:
    """A reporting clause: ``[start, end)`` in the text, and the words naming who speaks in it
    (a name, a description or a pronoun)."""

    start: int
    end: int
    subject_start: int
    subject_end: int
    pronoun: str | None = None  # "he", "she", ... when the subject is one
    name_start: int = -1  # the speaker's own words in the subject ("Tom Baker" of "Mayor Tom Baker")
    name_end: int = -1
    speaker: str | None = None  # who the subject names (full name or description); None for a pronoun
    person: bool = False  # the subject is a name that "he" or "she" may stand for

    @property
    def name_span(self) -> tuple[int, int]:
        return (
            (self.name_start, self.name_end)
            if self.name_start >= 0
            else (self.subject_start, self.subject_end)
        )


@dataclass(frozen=True)
class Attribution:
    speaker: str | None  # who the code settled on; None: nobody (the model may be asked)
    method: Method
    clause: Clause | None  # the clause that attributes it (a continuation's: the earlier one's)
    speaker_span: tuple[int, int] | None  # the words naming the speaker
    candidates: tuple[str, ...]  # what the model may choose when asked, most likely first; UNNAMED last

    @property
    def explicit(self) -> bool:
        """The speaker is named in this quotation's own clause."""
        return self.method == "clause"


@dataclass(frozen=True)
class Phrase:
    """A noun phrase that is a clause's subject: its span, and the speaker it names."""

    start: int
    end: int
    speaker: str | None  # a name or description; None for a pronoun
    pronoun: str | None = None
    person: bool = False  # the speaker is a name that can be a person
    name_start: int = -1  # where the name itself is written (a name inside a longer phrase)
    name_end: int = -1
