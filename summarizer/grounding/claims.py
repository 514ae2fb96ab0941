"""Claims and sources: a claim's status follows the hedges around it, its claimant the
clause's subject; sources are named in the article."""

from __future__ import annotations

import re

from summarizer.alignment import align, fold
from summarizer.grounding.findings import Findings, field_cap, whole
from summarizer.schema import Claim, ClaimPick, PointerDraft, Source

# ", the Ukrainian military said." / ", according to local officials." at the end of an account
_WHO = r"(?P<who>(?:the\s+)?[^,;\"\u201c\u201d]{2,60}?)"


_CLAIMANTS = (
    re.compile(rf",\s+{_WHO}\s+(?:said|says|claimed|reported|announced|stated)\.[\"\u201d]?$"),
    re.compile(rf",\s+according\s+to\s+{_WHO}\.[\"\u201d]?$"),
)


_UNVERIFIED = re.compile(
    r"could\s+not\s+(be\s+)?(immediately\s+|independently\s+)?(verif|confirm)|"
    r"(unable|impossible)\s+to\s+(independently\s+)?(verif|confirm)|"
    r"has\s+not\s+been\s+(independently\s+)?(verified|confirmed)|unverified",
    re.IGNORECASE,
)


# A denial is a denying verb, not any negation: "he did not say how many" denies nothing.
_DENIED = re.compile(
    r"\b(den(?:y|ies|ied|ial)|refut\w*|reject(?:s|ed)? (?:the|these|those|this|that|such) "
    r"(?:claims?|reports?|allegations?|accounts?)|disput(?:e|es|ed)|dismiss(?:es|ed)?|"
    r"called (?:it|them|the \w+(?: \w+)?) (?:false|untrue|fake|baseless|a lie))\b",
    re.IGNORECASE,
)


def _verifier(text: str, lo: int, hedge: re.Match[str]) -> str:
    """Who could not verify it: the words before "could not verify" in its sentence
    ("Reuters could not immediately verify the account." -> "reuters"), folded."""
    start = max(text.rfind(c, lo, hedge.start()) for c in ".!?\n") + 1
    words = fold(text[max(lo, start) : hedge.start()]).strip().split()
    return " ".join(w for w in words if w not in {"the", "we", "it"}) if 0 < len(words) <= 4 else ""


class Claims(Findings):
    """Claims and sources."""

    def claims(self, answer: PointerDraft) -> list[Claim]:
        out: list[Claim] = []
        for i, c in enumerate(answer.claims):
            path = f"claims[{i}]"
            statement = whole(c.statement, field_cap(ClaimPick, "statement"))
            s = self.cited(path, c.sentence, "statement", statement, denial=c.status == "denied")
            if s is None:
                continue
            cited = self.text[s.start : s.end]
            claimant = self.phrase(c.claimant, *self.around(s))
            if claimant is None:
                self.reject(f"{path}.claimant", c.claimant, "not named in the cited paragraph")
                continue
            status = c.status
            lo, hi = self.around(s)
            if s.paragraph + 1 < len(self.u.paragraphs):  # "could not verify" often follows
                hi = self.u.paragraphs[s.paragraph + 1].end
            hedged = _UNVERIFIED.search(self.text, lo, hi)
            if hedged and _verifier(self.text, lo, hedged) == fold(c.claimant).strip():
                self.reject(
                    f"{path}.claimant", c.claimant, "the party that could not verify it, not its claimant"
                )
                continue
            if hedged and status != "unverified":
                self.notes.append(f"{path}: the article says it could not verify this; status unverified")
                status = "unverified"
            elif status == "denied" and not _DENIED.search(self.text, lo, hi):
                self.reject(f"{path}.status", status, "the cited text denies nothing (no denial verb)")
                status = "claimed"
            kept = f"claims[{len(out)}]"
            self.keep(f"{kept}.evidence", s.start, s.end)
            self.keep(f"{kept}.claimant", *claimant)
            out.append(
                Claim(statement=statement, claimant=c.claimant, status=status, evidence=cited, sentence=s.id)
            )
        return out + self.unverified_accounts({c.sentence for c in out if c.sentence}, len(out))

    def unverified_accounts(self, cited: set[str | None], first: int) -> list[Claim]:
        """Accounts the article says it could not verify ("Reuters could not immediately verify
        the account."), added as ``unverified`` claims when the model cited none of them: an
        editor must see those. The account is the sentence before, with its "X said" claimant;
        statement and claimant are copied from it. The status says it all: no review flag."""
        out: list[Claim] = []
        sentences = self.u.sentences
        for k, t in enumerate(sentences):
            if k == 0 or t.withheld or not _UNVERIFIED.search(self.text[t.start : t.end]):
                continue
            s = sentences[k - 1]
            if s.withheld or s.id in cited or s.paragraph < t.paragraph - 1:
                continue
            sentence = self.text[s.start : s.end]
            said = next((m for p in _CLAIMANTS if (m := p.search(sentence))), None)
            if said is None:
                continue
            kept = f"claims[{first + len(out)}]"
            self.keep(f"{kept}.evidence", s.start, s.end)
            self.keep(f"{kept}.claimant", s.start + said.start("who"), s.start + said.end("who"))
            out.append(
                Claim(
                    statement=sentence,
                    claimant=said["who"],
                    status="unverified",
                    evidence=sentence,
                    sentence=s.id,
                )
            )
            cited.add(s.id)
        return out

    def sources(self, answer: PointerDraft) -> list[Source]:
        out: list[Source] = []
        visible = self.u.visible_text()
        for i, src in enumerate(answer.sources):
            if self.publisher and fold(src.name).strip() == fold(self.publisher).strip():
                continue  # the outlet itself, which the prompt names and the record keeps
            if align(src.name, visible, whole_words=True) is None:
                self.reject(f"sources[{i}].name", src.name, "this name does not occur in the article")
                continue
            where = self.phrase(src.name, 0, len(self.text))
            if where is not None:
                self.keep(f"sources[{len(out)}].name", *where)
            out.append(Source(name=src.name, kind=src.kind))
        return out
