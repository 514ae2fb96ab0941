"""Does the prose say what its cited text says, not only with its words?

``summarizer.prose`` checks that the model's words, names and numbers come from the cited text.
That lets a sentence use the article's words to say the opposite: "Russia captured a major city"
on "After failing to capture a major city", "A million people were evacuated" on "6,266 people
were evacuated", "86 Russian soldiers released" on "86 Ukrainian soldiers were released". This
module holds the patterns that catch those, each written for the pattern, not an example:

- **scope**: a clause of the cited text under a negation ("not", "failed to", "thwarted",
  "denied", "could not") or a modality ("may", "plans to", "threatened to", "if") does not
  support the prose stating it as done (``unasserted``);
- **opposites**: the prose uses a word whose opposite the cited clause uses and it does not
  ("advancing" on "withdrawing", "survived" on "killed"), compared by lemma (``opposite``);
- **quantities**: each number of the prose is bound to what it counts: the words right after it
  must be in the clause of the cited text that holds the same number; a year ("since 2014") does
  not count anything ("2014 civilians"); "a million" is a number (``unbound_numbers``).

Lemmas are simplemma's (a maintained, dictionary-based lemmatizer for 48 languages, pure Python,
no model download); everything else is regular expressions on canonical text.
"""

from __future__ import annotations

import re
from functools import lru_cache

import simplemma

from summarizer.alignment import fold
from summarizer.numbers import _NUMBER, _value

_WORD = re.compile(r"[^\W\d_](?:[\w'\u2019-]*\w)?")
# A negation or a modality opens a scope that runs to the clause's end.
_NEGATION = (
    r"not|no|never|none|nobody|nothing|neither|nor|without|cannot|n't|"
    r"fail(?:s|ed|ing)?(?: to)?|unable to|den(?:y|ies|ied)|refus(?:e|es|ed|ing)(?: to)?|"
    r"thwart(?:s|ed)?|foil(?:s|ed)?|prevent(?:s|ed)?|avert(?:s|ed)?|"
    r"ruled out|rather than|instead of|false(?:ly)?|impossible|"
    r"avoid(?:s|ed|ing)?|escap(?:e|es|ed|ing)|spared|"
    r"не|нет|ни|нічого|ніколи"
)
_MODALITY = (
    r"may|might|could|would|should|if|unless|"
    r"(?:plan|expect|threaten|want|aim|seek|hope|intend|propose|tr(?:y|ie)|attempt|vow|pledge|promise)"
    r"(?:s|ed|d|ing)? to|sought to|set to|due to be|likely to|possibl[ey]|reportedly|allegedly|"
    r"consider(?:s|ed|ing)?|propos(?:al|es|ed)"
)
_CUE = re.compile(rf"\b(?:(?P<neg>{_NEGATION})|(?P<mod>{_MODALITY}))\b|n't\b", re.IGNORECASE)
# Where a scope ends: punctuation or a word that starts a new clause.
_CLAUSE_END = re.compile(
    r"[\"\u201c\u201d\u00ab\u00bb,;:.!?()\u2014\u2013]|\s-\s|"
    r"\b(?:and|but|while|whereas|although|though|who|which|because|after|before|when|as)\b",
    re.IGNORECASE,
)
_SCOPE_WORDS = 6
# Words that say the opposite of each other, by lemma: each row is one meaning, each pair of
# rows in a group are opposites.
_OPPOSITES: tuple[tuple[frozenset[str], frozenset[str]], ...] = tuple(
    (frozenset(a.split()), frozenset(b.split()))
    for a, b in (
        ("advance", "retreat withdraw withdrawal pullback"),
        ("capture seize take", "lose recapture liberate"),
        ("win won victory", "lose lost"),
        (
            "rise rose risen increase grow climb jump surge",
            "fall fell fallen decrease drop decline shrink plunge",
        ),
        ("approve accept pass", "reject veto"),
        ("confirm", "deny"),
        ("arrest detain capture jail", "release free"),
        ("hit strike reach", "miss intercept"),
        ("convict guilty", "acquit innocent"),
        ("open reopen", "close shut"),
        ("allow permit lift", "ban forbid prohibit"),
        ("support back favour favor", "oppose"),
        ("survive survivor rescue", "kill die dead death"),
        ("gain", "loss"),
        ("resign quit", "appoint elect"),
        ("start begin launch", "end halt stop suspend"),
    )
)
_YEAR = re.compile(r"(?:19|20)\d\d")
_TIME_BEFORE = re.compile(
    r"\b(?:since|in|until|till|by|from|before|after|of|during|through|around|to|early|late|mid|"
    r"january|february|march|april|may|june|july|august|september|october|november|december)\W*$",
    re.IGNORECASE,
)
_IN_WORD = re.compile(r"(?:st|nd|rd|th)\b|[^\W\d_]", re.IGNORECASE)  # "10th", "16s"
_A_SCALE = re.compile(r"\ban?\s+(hundred|thousand|million|billion)\b", re.IGNORECASE)
_SCALE_VALUE = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9}
_COUNTED_SKIP = frozenset(
    [
        "of",
        "the",
        "a",
        "an",
        "more",
        "than",
        "over",
        "about",
        "nearly",
        "almost",
        "around",
        "some",
        "at",
        "least",
        "up",
        "to",
        "people's",
        # "86 were killed": what became of them is what the number is said of
        "were",
        "was",
        "are",
        "is",
        "have",
        "has",
        "had",
        "been",
    ]
)
_LITTLE = frozenset(
    """a an the and or but of in on at to for from by with as is are was were be been being has
    have had do does did will would can could may might this that these those it its their his
    her they them he she we who which than then there also into over after before about under up
    out off if unless so because while though although whether when where""".split()  # noqa: SIM905
)


@lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """The word's dictionary form, folded: "withdrawing" -> "withdraw", "won" -> "win"."""
    w = fold(word).removesuffix("'s").removesuffix("\u2019s")
    return fold(str(simplemma.lemmatize(w, lang="en")))


def lemmas(text: str) -> set[str]:
    return {lemma(w) for w in _WORD.findall(text)}


def _scopes(text: str) -> list[tuple[str, list[str], set[str]]]:
    """Each negation or modality cue of the text with the content lemmas of its scope (the
    words after it to the clause's end, at most a few) and those of them written in lower case
    (what is said, not who or where)."""
    out: list[tuple[str, list[str], set[str]]] = []
    for m in _CUE.finditer(text):
        rest = text[m.end() :]
        end = _CLAUSE_END.search(rest)
        found = [w for w in _WORD.findall(rest[: end.start()] if end else rest) if fold(w) not in _LITTLE]
        found = found[:_SCOPE_WORDS]
        kind = "negation" if m.group("neg") or m.group(0).lower() == "n't" else "hedge"
        out.append((kind, [lemma(w) for w in found], {lemma(w) for w in found if w.islower()}))
    return out


def _asserted(text: str) -> set[str]:
    """Content lemmas of the text outside every negation or modality scope."""
    kept = []
    pos = 0
    for m in _CUE.finditer(text):
        if m.start() < pos:
            continue
        kept.append(text[pos : m.start()])
        rest = text[m.end() :]
        end = _CLAUSE_END.search(rest)
        pos = m.end() + (end.start() if end else len(rest))
    kept.append(text[pos:])
    return lemmas(" ".join(kept))


def unasserted(prose: str, cited: str) -> str | None:
    """The prose states as done what the cited text negates or leaves undone: two or more of
    its content words are in one negated or hedged scope of the cited text, one of them a
    lower-case word (a thing said, not only a name) that no unscoped part of the cited text
    has, and the prose has no cue itself. Returns "negation" or "hedge", or None."""
    if _CUE.search(prose):
        return None
    words = {lemma(w) for w in _WORD.findall(prose) if fold(w) not in _LITTLE}
    free = _asserted(cited)
    for kind, scope, said in _scopes(cited):
        shared = words.intersection(scope)
        if not (shared & said) - free:
            continue
        if kind == "hedge" and scope[:1] and scope[0] not in words:
            continue  # what is hedged is the scope's first word ("plans to attack"), not a subject
        if len(shared) >= 2 or (len(words) <= 4 and len(words & lemmas(cited)) >= 2):
            return kind  # a short headline: "Missile reached target" on "...did not hit the target"
    return None


def opposite(prose: str, cited: str) -> tuple[str, str] | None:
    """A word of the prose whose opposite the cited text uses, when the cited text never uses
    the prose's word or its synonyms: ("advance", "withdraw")."""
    mine, theirs = lemmas(prose), lemmas(cited)
    for a, b in _OPPOSITES:
        for this, that in ((a, b), (b, a)):
            said = mine & this
            if said and theirs & that and not theirs & this:
                return sorted(said)[0], sorted(theirs & that)[0]
    return None


@lru_cache(maxsize=1024)  # cited sentences: each is checked against every piece of prose
def _quantities(text: str) -> tuple[tuple[float, int, int], ...]:
    """(value, start, end) of each number written in the text; vague amounts are -1."""
    out = []
    for m in _NUMBER.finditer(text):
        if not m.group(0).strip() or (m.group("digits") and _IN_WORD.match(text, m.end())):
            continue
        if m.group("digits") and m.start() and text[m.start() - 1].isalpha():
            continue  # "F1", "COVID19": a name, not a number
        value = _value(m)
        out.append((-1.0 if value is None else value, m.start(), m.end()))
    for m in _A_SCALE.finditer(text):
        out.append((_SCALE_VALUE[m.group(1).lower()], m.start(), m.end()))
    return tuple(out)


def _counted(text: str, end: int) -> list[str]:
    """Content lemmas right after a number, to the first little word: what it counts."""
    out: list[str] = []
    after = re.split(r"[,;:.!?()\"\u201c\u201d\u2014]", text[end : end + 60], maxsplit=1)[0]
    for w in _WORD.findall(after):
        if fold(w) in _COUNTED_SKIP and not out:
            continue
        if fold(w) in _LITTLE or len(out) == 2 or (out and fold(w).endswith(("ed", "ing"))):
            break  # a verb after the noun says what happened to them, not what they are
        out.append(lemma(w))
    return out


def _clause(text: str, start: int, end: int) -> str:
    """The clause of ``text`` around ``text[start:end]``, bounded by punctuation."""
    stops = '\n.;:!?\u2014()"\u201c\u201d'
    lo = max(text.rfind(c, 0, start) for c in stops) + 1
    hi = min((k for k in (text.find(c, end) for c in stops) if k != -1), default=len(text))
    return text[lo:hi]


_SMALL_CLAUSE_END = re.compile(r"[\n,;:.!?()\u2014\u2013\"\u201c\u201d]|\b(?:and|but|while|whereas)\b")


def number_clause(text: str, start: int, end: int) -> str:
    """The words of ``text`` that go with the number at ``start:end``: from the last comma,
    clause word or sentence end before it to the first after it ("6,266 people were
    evacuated" in "..., and 6,266 people were evacuated, officials said")."""
    before = list(_SMALL_CLAUSE_END.finditer(text, 0, start))
    lo = before[-1].end() if before else 0
    after = _SMALL_CLAUSE_END.search(text, end)
    hi = after.start() if after else len(text)
    return text[lo:hi]


def unbound_numbers(prose: str, cited: str) -> list[str]:
    """Numbers of the prose the cited text does not give for the same thing: absent from it,
    counting words its clause of that number does not have, or a year used as a count."""
    theirs = _quantities(cited)
    out: list[str] = []
    for value, start, end in _quantities(prose):
        written = prose[start:end].strip()
        if value == 1.0 and not written[:1].isdigit():
            continue  # "One Russian missile": an article, not a figure
        same = [(s, e) for v, s, e in theirs if v == value]
        if not same:
            out.append(written)
            continue
        counts = _counted(prose, end)
        if not counts:
            continue
        if _YEAR.fullmatch(written) and _TIME_BEFORE.search(prose[max(0, start - 20) : start]):
            continue  # a year in the prose too ("could open in 2029")
        if _YEAR.fullmatch(written) and all(_TIME_BEFORE.search(cited[max(0, s - 20) : s]) for s, _ in same):
            out.append(written)  # "since 2014" counts nothing
            continue
        if not any(_says(counts, _named(prose, end), cited, s, e) for s, e in same):
            out.append(f"{written} {' '.join(counts)}")
    return out


_UNIT_WORDS = frozenset(
    ["dollar", "euro", "pound", "pence", "cent", "percent", "per", "year", "old", "year-old"]
)


def _named(text: str, end: int) -> set[str]:
    """The capitalised words among those a number counts: "86 Ukrainian soldiers"."""
    return {lemma(w) for w in _WORD.findall(text[end : end + 40])[:3] if w[:1].isupper()}


def _says(counts: list[str], named: set[str], cited: str, start: int, end: int) -> bool:
    """The cited number at ``start:end`` counts what the prose's counts: its clause has the
    words (any number of people is "people"), and a name among them ("Russian soldiers") is
    among the words right after the number, not elsewhere in the clause ("Ukrainian soldiers
    were released by Russian forces")."""
    clause = lemmas(_clause(cited, start, end).replace("-", " ")) | {"people", "person"} | _UNIT_WORDS
    following = _WORD.findall(cited[end : end + 40])[:3]
    # the first word: the thing counted, or what became of it ("two-car tram": by its parts)
    if not set(counts[0].split("-")) <= clause:
        return False
    if any(w[:1].isupper() for w in following):  # the text names whom it counts: the same names
        return named & set(counts) <= {lemma(w) for w in following}
    return True
