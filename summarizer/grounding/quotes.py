"""Quotations: each kept one verbatim from the article's own offsets, with the speaker its
reporting clause names; a model's pick only where no clause settles it."""

from __future__ import annotations

from summarizer.answer import quote_choices
from summarizer.grounding.findings import Findings
from summarizer.schema import PointerDraft, Quote, QuoteAttribution
from summarizer.speakers import UNNAMED
from summarizer.units import Quotation


class Quotes(Findings):
    """Quotations and their speakers."""

    def quotes(self, answer: PointerDraft) -> list[Quote]:
        """Every quotation of the article, with the speaker its reporting clause names (our
        code, ``summarizer.speakers``) or, where no clause settles it, the model's pick among
        the names offered; the clause and the speaker's words are kept as evidence."""
        chosen = quote_choices(answer)
        out: list[Quote] = []
        for q in self.u.quotations:
            a = q.attribution
            path = f"quotes[{len(out)}]"
            self.keep(f"{path}.text", q.start, q.end)
            pick = chosen.get(q.id)
            speaker, method, span = a.speaker, a.method, a.speaker_span
            if speaker is not None and pick not in (None, UNNAMED, speaker):
                self.reject(f"quotes.{q.id}", pick, f"the article's own attribution names {speaker}")
            elif speaker is None and q.asked and pick not in (None, UNNAMED):
                assert pick is not None
                span = self.model_pick(q, pick)
                speaker, method = (pick, "model") if span is not None else (None, method)
                if span is not None:  # shown in the brief: an editor checks it
                    self.notes.append(
                        f"quotes.{q.id}: speaker chosen by the model, no reporting clause names one"
                    )
                    self.review.append(
                        f"the speaker of “{self.text[q.start : q.end][:40]}” is the model's pick"
                    )
            if speaker is None:
                speaker, method, span = UNNAMED, "unnamed", None
            if span is not None:
                self.keep(f"{path}.speaker", *span)
            clause = a.clause
            if clause is not None:
                self.keep(f"{path}.attribution", clause.start, clause.end)
            attribution = QuoteAttribution(
                method=method,
                clause=self.text[clause.start : clause.end] if clause else None,
                clause_start=clause.start if clause else None,
                clause_end=clause.end if clause else None,
                speaker_start=span[0] if span else None,
                speaker_end=span[1] if span else None,
            )
            text = self.text[q.start : q.end]
            out.append(Quote(text=text, speaker=speaker, kind="direct", id=q.id, attribution=attribution))
        return out

    def model_pick(self, q: Quotation, pick: str) -> tuple[int, int] | None:
        """Where the model's speaker is named near the quotation, or None with the pick rejected:
        it must be one of the names offered and not a place."""
        path = f"quotes.{q.id}"
        if pick not in q.candidates:
            self.reject(path, pick, "not a name the article gives near this quotation")
            return None
        if pick in self.u.places:
            self.reject(path, pick, "a place in this article, not a speaker")
            return None
        lo = self.u.paragraphs[max(0, q.paragraph - 2)].start
        hi = self.u.paragraphs[min(len(self.u.paragraphs) - 1, q.paragraph + 1)].end
        where = self.phrase(pick, lo, hi) or self.phrase(pick.rsplit(maxsplit=1)[-1], lo, hi)
        if where is None:
            self.reject(path, pick, "not named near the quotation")
        return where
