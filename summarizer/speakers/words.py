"""Words and names as speakers: a name's clean form, whether it can speak or be a person, the
head of a noun phrase, a quoted title."""

from __future__ import annotations

import re
from collections.abc import Sequence

from summarizer.speakers.lexicon import ORGANISATION, PREPOSITIONS, ROLE, VERB_FORMS
from summarizer.speakers.spans import Name


def tidy_name(words: list[str]) -> list[str]:
    """A name's words without the residue of a scraped page or the role words before it:
    "Brexit Gemma Pryor Gemma Pryor" (a caption run) -> Gemma Pryor, "PA Toblerone" (a picture
    agency's credit) -> Toblerone, "MVP Zobrist" -> Zobrist."""
    for k in range(len(words) // 2, 0, -1):
        if words[-k:] == words[-2 * k : -k]:
            words = words[-k:]
            break
    while len(words) > 1 and ROLE.match(words[0]) and not STYLED.match(words[0]):
        words = words[1:]
    return words


STYLED = re.compile(r"^(?:lady|sir|dame|lord|king|queen|prince|princess|pope)$", re.IGNORECASE)  # "Lady Gaga"


LY_NOUNS = frozenset(
    "family ally rally assembly supply reply july italy anomaly monopoly homily bully belly".split()  # noqa: SIM905
)


# Participles that are adjectives in a subject: "registered voters", "retired general".
ED_ADJECTIVES = frozenset(
    """registered elected unnamed retired concerned unidentified armed masked injured wounded
    detained accused alleged interested qualified licensed experienced unaffiliated undecided
    self-described so-called""".split()  # noqa: SIM905
)


def verb_like(word: str) -> bool:
    """A lowercase past form or speech verb ("arrested", "filed", "said"), not an adjective."""
    return word.islower() and (word.endswith("ed") or word in VERB_FORMS) and word not in ED_ADJECTIVES


def adverb(word: str) -> bool:
    """ "repeatedly", "angrily": not "family" or "ally"."""
    low = word.lower()
    return low.endswith("ly") and len(low) > 4 and low not in LY_NOUNS and word.islower()


def clean(name: str) -> str:
    """ "Hillary Clinton's" -> "Hillary Clinton"."""
    return re.sub(r"['\u2019]s$", "", name)


def speaker_like(name: str) -> bool:
    """Names that can speak: not a bare demonym ("Russian", "Ukrainians")."""
    return len(name.split()) > 1 or not re.search(r"(ian|ean|ese|ish|ians|eans)$", clean(name))


def person_like(name: str) -> bool:
    """A name "he" or "she" may stand for: not an organisation word, not an acronym."""
    bare = clean(name)
    return speaker_like(bare) and not ORGANISATION.search(bare) and not re.fullmatch(r"[A-Z.&\s-]{2,}", bare)


def canonical_names(names: Sequence[Name]) -> dict[str, str]:
    """Surname (or any last word) -> the fullest earlier name ending with it: "Tymoshenko" ->
    "Kyrylo Tymoshenko". Only when one full name fits; otherwise the short form stays."""
    full: dict[str, set[str]] = {}
    for n in names:
        parts = tidy_name(n.text.split())
        if len(parts) > 1:
            full.setdefault(parts[-1], set()).add(" ".join(parts))
    out: dict[str, str] = {}
    for last, forms in full.items():
        shortest = min(forms, key=len)  # "Martin Bamford" inside "PA Martin Bamford"
        firsts = {f.split()[0] for f in forms}
        if all(f.endswith(shortest) for f in forms) or len(firsts) == 1:  # "Loretta (E.) Lynch"
            out[last] = shortest
    return out


def title_like(quoted: str) -> bool:
    """A quoted title, slogan or name ("Curse of the Billy Goat", "No Trump, No KKK"): its long
    words all capitalised. Nobody is quoted saying it."""
    words = re.findall(r"[^\W\d_]+", quoted)
    if quoted.isupper():
        return False  # "NO COLLUSION, NO OBSTRUCTION!": somebody shouted it
    long = [w for w in words if len(w) > 3 or (w.isupper() and len(w) > 1)]
    return 0 < len(words) <= 8 and len(long) >= 2 and all(w[0].isupper() for w in long)  # not "Neither do I."


def noun_head(tokens: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The head of a noun phrase's tokens: after the last possessor, before the first
    "of/for/from/at/with", without parentheses ("(D-Mo.)"); empty when there is none."""
    head = tokens
    for k, t in enumerate(tokens):
        if t[2].endswith(("'s", "\u2019s", "s'")) and k + 1 < len(tokens):
            head = tokens[k + 1 :]
    for k, t in enumerate(head):
        if t[2].lower() in PREPOSITIONS and k:
            head = head[:k]
            break
    head = [t for t in head if not t[2].startswith("(")]
    return [] if not head or head[-1][2] == "," else head


def capitalised(word: str) -> bool:
    return word[:1].isupper()
