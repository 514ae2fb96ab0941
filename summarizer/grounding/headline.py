"""The headline and the brief: the model's prose kept only when its best-supporting
sentences say what it says; otherwise a sentence of the article stands in."""

from __future__ import annotations

import re

from summarizer.alignment import fold
from summarizer.grounding.findings import (
    MIN_LEAD_WORDS,
    Findings,
    field_cap,
    prose_sentences,
    whole,
)
from summarizer.meaning import unasserted, unbound_numbers
from summarizer.prose import (
    HEDGED,
    common_word,
    content_stems,
    content_words,
    meaning_problem,
    names_in,
    share_problem,
    stem,
    unsupported_names,
    unsupported_numbers,
    word_stems,
)
from summarizer.schema import PointerDraft
from summarizer.units import Sentence

_VAGUE_START = re.compile(r"(?i)(tens|hundreds|thousands|millions|billions|dozens|scores)\b")


MIN_SHARE_PROSE = 0.5  # of a headline's or brief sentence's words, in its three best sentences


BRIEF_SENTENCE = 160  # an article sentence standing in for one of the brief's, at most


MIN_BOUND_WORDS = 1  # content words a sentence naming a name of prose shares with the rest of it


HEADLINE_CAP = field_cap(PointerDraft, "headline") or 110  # a sentence standing in for a headline


OPENING = 10  # citable sentences where a brief standing in for the model's is looked for


_PROSE_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")


_PROSE_CLAUSES = re.compile(r"[,;:]\s|\s(?:as|and|while|after|before)\s")


# Little words inside a name's run: "Tarcísio de Freitas", "Ursula von der Leyen".
_NAME_PARTICLES = frozenset(
    [
        "de",
        "da",
        "do",
        "dos",
        "das",
        "del",
        "della",
        "di",
        "van",
        "von",
        "der",
        "den",
        "du",
        "la",
        "le",
        "bin",
        "ibn",
        "al",
        "el",
        "y",
    ]
)


def _capital_runs(prose: str) -> list[list[str]]:
    """Runs of capitalised words next to each other, across a name's particles and ended by a
    possessive: "at Osijek, Vukovar and Slavonski Brod" -> [["Osijek"], ["Vukovar"],
    ["Slavonski", "Brod"]]; "Roger Schmidt's Benfica" -> [["Roger", "Schmidt's"], ["Benfica"]]."""
    runs: list[list[str]] = []
    last, joined = -1, False
    for m in _PROSE_WORD.finditer(prose):
        w = m.group(0)
        if not w[:1].isupper():
            if w in _NAME_PARTICLES and last >= 0 and prose[last : m.start()] == " ":
                last = m.end()  # the run goes on across "de"
                continue
            last = -1
            continue
        if joined and last >= 0 and prose[last : m.start()] == " ":
            runs[-1].append(w)
        else:
            runs.append([w])
        last, joined = m.end(), not w.endswith(("'s", "\u2019s"))
    return runs


def trimmed(text: str, cap: int) -> str:
    """An article sentence shown in the model's place (``Findings.shown``: its picture credit
    and a lead's dateline already gone), cut at a word to ``cap`` characters."""
    text = text.strip()
    if len(text) <= cap:
        return text
    return whole(text[: text.rfind(" ", 0, cap - 1)], None).rstrip(",;: \u2026") + "\u2026"


def _sentences(prose: str) -> list[str]:
    """The model's prose by sentence, abbreviations kept whole: a split after "F.B.I." left
    the dev set's brief opening "Director for the loss, ..." when the first half fell."""
    return [prose[a:b] for a, b in prose_sentences(prose)]


def _echoes(prose: str, withheld: str, visible: str) -> bool:
    """Most of the prose's words come from the withheld passage and not from the rest."""
    words = [fold(w) for w in content_words(prose)]
    if not words:
        return fold(prose).strip() != "" and fold(prose).strip() in fold(withheld)
    inside = {fold(w) for w in content_words(withheld)}
    outside = {fold(w) for w in content_words(visible)}
    only_withheld = sum(w in inside and w not in outside for w in words)
    return only_withheld / len(words) >= 0.3 or (
        sum(w in inside for w in words) / len(words) >= 0.8
        and sum(w in outside for w in words) / len(words) < 0.5
    )


class Headline(Findings):
    """Headline and brief."""

    def headline(self, answer: PointerDraft, title: str | None) -> tuple[str, str]:
        """The headline and brief, each sentence held to what the article says (``said``).
        Names and numbers must be in the article's visible text or its title (the dev set's
        "… at wet Brazilian Grand Prix" is the title's, and the text never says "Brazilian");
        prose that only a withheld passage supports is rejected. What fails is never shown:
        the title (or the lead) stands in for a headline, the sentence the model's summarised
        for a sentence of the brief, and the brief says so."""
        visible = self.u.visible_text()
        named = f"{title or ''}\n\n{visible}"  # the title is never scanned for injections: names only
        withheld = " ".join(self.text[a:b] for a, b in self.u.withheld)
        out = []
        for name, given in (("headline", answer.headline), ("brief", answer.brief)):
            prose = self.without_rejected(
                name, whole(given, field_cap(PointerDraft, name), sentences=name == "brief")
            )
            if withheld and _echoes(prose, withheld, visible):
                self.reject(name, prose, "supported only by a passage withheld as a suspected injection")
                prose = ""
            else:
                names = unsupported_names(prose, named)
                numbers = [v for v in unsupported_numbers(prose, named) if v >= 0]
                if names or numbers:
                    what = ", ".join([*names[:3], *(f"{v:g}" for v in numbers[:3])])
                    self.reject(name, prose, f"names or numbers not in the article: {what}")
                    prose = ""
            out.append(self.said(name, prose, title))
        headline = out[0] or title or self.first_sentence()
        if not out[0]:
            stand_in = "title" if title else "first sentence"
            self.review.append(f"the headline is the article's {stand_in}: the model's did not hold")
        return headline, out[1] or self.lead_brief(headline)

    def lead_brief(self, headline: str) -> str:
        """When no sentence of the model's brief holds (each restated a rejected event, or the
        grammar broke the only one off): the sentence of the article's opening that shares most
        words with the headline, the first such on a tie, with a review line like every stand-in
        (the summary is not the model's). News writing puts the story in its lead; scraped pages
        open with sign-up lines and photo captions, which share few of the headline's words. A
        brief line left empty told the editor nothing (the seed's, five of the dev set's 32)."""
        words = content_stems(headline)
        first = self.u.citable[:OPENING]
        opening = [s for s in first if self.reports(s, MIN_LEAD_WORDS) and not self.shows(s, headline)]
        if not opening:
            return ""
        best = max(opening, key=lambda s: (len(words & content_stems(self.text[s.start : s.end])), -s.start))
        self.review.append(f"the brief is the article's {best.id}: no sentence of the model's held")
        return trimmed(self.shown(best), field_cap(PointerDraft, "brief") or BRIEF_SENTENCE)

    def said(self, name: str, prose: str, title: str | None) -> str:
        """``prose`` less each sentence that says what its best-supporting sentences of the
        article do not (``check_prose``: their numbers for the same things, their polarity and
        modality, no opposites, most of their words). A brief's failed sentence gives way to
        the article sentence it summarised; a headline's to the title, by the caller."""
        kept: list[str] = []
        visible = self.u.visible_text()
        for sentence in _sentences(prose):
            support = self.best_support(sentence, 3)
            cited = " ".join(self.text[t.start : t.end] for t in support)
            unbound = [n for n in unbound_numbers(sentence, visible) if not _VAGUE_START.match(n)]
            meaning = meaning_problem(sentence, cited)
            if meaning == HEDGED and self.asserted_elsewhere(sentence, cited):
                meaning = None
            # Each name must stand in a sentence that says something else of this one: every
            # name the article's, yet a town added to a list it does not belong to.
            far = self.unbound_names(sentence, title)
            why = (
                f"numbers the article does not give for this: {', '.join(unbound[:3])}"
                if unbound
                else f"names the article never writes of this: {', '.join(far[:3])}"
                if far
                else meaning or share_problem(sentence, cited, MIN_SHARE_PROSE, f"{title or ''} {visible}")
            )
            if why is None:
                kept.append(sentence)
                continue
            self.reject(name, sentence, why)
            if name == "brief" and support and support[0].id not in self.stood_in:
                self.stood_in.add(support[0].id)
                kept.append(trimmed(self.shown(support[0]), BRIEF_SENTENCE))
                self.review.append(
                    f"a sentence of the brief is the article's ({support[0].id}): the model's did not hold"
                )
        return " ".join(kept)

    def unbound_names(self, prose: str, title: str | None) -> list[str]:
        """Names of ``prose`` that no sentence naming them says anything else of ``prose``
        about: none shares one of its content words outside the name's own run of capitalised
        words (a name of the title is the title's). "Engineers reopened bridges at Osijek,
        Vukovar and Slavonski Brod", where the only sentence naming Slavonski Brod says it is
        still flooded; the seed's brief had Mariupol, besieged in every sentence naming it,
        among the places reclaimed. Other names count ("Biden meets Zelensky in Warsaw" holds
        by "Biden met Zelensky in Warsaw"). Dictionary words ("US" beside "us", "President",
        "Chinese" beside "China") and names no sentence writes as such are left to the
        whole-article check."""
        held = word_stems(title or "")
        runs, said = _capital_runs(prose), content_stems(prose)
        out = []
        for name in names_in(prose):
            key = stem(name)
            if key in held or common_word(name):
                continue
            naming = [t for t, stems in self.sentence_stems if key in stems]
            if not naming:
                continue
            own = next((r for r in runs if name in r), [name])
            words = said - {stem(w) for w in own}
            if not words:
                continue  # the prose says nothing of the name but the name ("JAKARTA")
            if not any(len(words & content_stems(t)) >= MIN_BOUND_WORDS for t in naming):
                out.append(name)
        return out

    def asserted_elsewhere(self, prose: str, cited: str) -> bool:
        """Each clause of ``prose`` that the supporting sentences only hedge is stated as done
        by another sentence of the article that has most of its words: "Ukraine retakes areas
        around Kyiv as Russia shifts focus to Donbas", where the lead says Russia is "set to
        focus" on the Donbas and a later sentence that it "is now the focus of its war effort"."""
        for clause in _PROSE_CLAUSES.split(prose):
            words = content_stems(clause)
            if not words or unasserted(clause, cited) is None:
                continue
            texts = [self.text[t.start : t.end] for t in self.best_support(clause, 3)]
            if not any(
                unasserted(clause, text) is None and len(words & content_stems(text)) >= 0.6 * len(words)
                for text in texts
            ):
                return False
        return True

    def best_support(self, prose: str, n: int = 2) -> list[Sentence]:
        """The ``n`` citable sentences sharing most content words with the prose, best first
        (a sentence repeated word for word, a caption repeating the lead, counted once)."""
        words = content_stems(prose)
        ranked = sorted(self.u.citable, key=lambda o: -len(words & content_stems(self.text[o.start : o.end])))
        out: list[Sentence] = []
        for o in ranked:
            text = self.text[o.start : o.end]
            if len(out) == n or not words & content_stems(text):
                break
            if all(text != self.text[t.start : t.end] for t in out):
                out.append(o)
        return out

    def without_rejected(self, name: str, prose: str) -> str:
        """The headline or brief less any sentence that restates an event or claim grounding
        rejected: the dev set's Croydon brief opened with "A 30-year-old man was killed in a
        tram crash", the very event rejected three times (the 30-year-old survived)."""
        rejected = [
            content_stems(r.value) for r in self.rejected if r.field.endswith((".what", ".statement"))
        ]
        if not rejected or not prose:
            return prose
        kept = []
        for sentence in _sentences(prose):
            words = content_stems(sentence)
            if words and any(len(words & r) / len(words) >= 0.6 for r in rejected if r):
                self.reject(name, sentence, "restates an event or claim rejected above")
            else:
                kept.append(sentence)
        return " ".join(kept)

    def shows(self, s: Sentence, headline: str) -> bool:
        """The headline is ``s``, whole or as it stands in for one (credit or dateline dropped,
        cut)."""
        text = self.text[s.start : s.end]
        return fold(headline) in (fold(text), fold(trimmed(self.shown(s), HEADLINE_CAP)))

    def first_sentence(self) -> str:
        s = next(iter(self.u.citable), None)
        return trimmed(self.shown(s), HEADLINE_CAP) if s else ""
