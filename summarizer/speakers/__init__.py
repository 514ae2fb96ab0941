"""Who said each quotation: its reporting clause, found in code, or nobody.

For every quotation ``attribute`` looks for the words that attribute it, the *reporting clause*:
a speech verb ("said", "told", "wrote", "according to", ...) and its subject, a noun phrase.

- after the closing mark: ``"…," X said`` / ``"…," said X`` / ``"…" the letter reads``, or a
  short next sentence that is only a tag (``"…" President Trump tweeted on Sunday.``);
- before the opening mark in the same sentence: ``X, a Y, told the paper: "…"``, ``X says the
  plan is "…"``, ``According to X, "…"``, ``…, saying "…"`` (the sentence's subject);
- a paragraph that ends in a colon introduces the quotation that opens the next one
  (``Caddell continued:``); a transcript line (``WALLACE: …``) is its label's.

The subject is read as a noun phrase, not only as a proper name. Its head (after a possessor,
before "of/for/from/at") decides what speaks: a name (``Hillary Clinton's campaign manager
Robby Mook`` -> Robby Mook; ``Robin Smith from British Transport Police`` -> Robin Smith), or,
when the head is a common noun, the description as written (``a London ambulance spokesman``,
``Mr Lee's family``, ``the ruling``). Words in parentheses, credits, places and demonyms are
never a subject.

With no clause of its own a quotation **continues** the quotation before it in its paragraph,
or the last quotation of the previous paragraph when it opens the paragraph (news style), unless
someone else is said to speak in between or the earlier quotation was a question. A **pronoun**
subject (``he said``) goes to a person only when they agree: the nearest earlier speaker or
sentence subject whose gender (a title, then the first-name lexicon of ``first_names``, then
pronouns the article ties to the name) is the pronoun's; otherwise nobody, and the model is not
asked. Only a quotation with no clause at all may be put to the model (``units.Quotation.asked``),
with the names near it and "unnamed" as the only choices.

Every attribution keeps its evidence: the clause's span, the span of the words naming the
speaker (the antecedent for a pronoun, the earlier clause for a continuation) and the method:
``clause``, ``continuation``, ``pronoun``, and, in grounding, ``model`` or ``unnamed``.
Measured with ``bench/speakers.py`` on PolNeAR's dev split and the dev set (see CHANGELOG).

The rooms, each importing only those listed before it: ``lexicon``, ``spans``, ``words``,
``text``, ``people``, ``phrases``, ``framing``, ``clauses`` (``Reader``), ``pronouns``,
``attribution`` (``attribute``).
"""

from __future__ import annotations

from summarizer.speakers.attribution import attribute
from summarizer.speakers.lexicon import OPENING_MARKS, REPORTS, ROLE, SPEECH_RE, UNNAMED
from summarizer.speakers.spans import Attribution, Clause, Method, Region
from summarizer.speakers.words import canonical_names, clean, person_like, speaker_like, title_like

__all__ = [
    "OPENING_MARKS",
    "REPORTS",
    "ROLE",
    "SPEECH_RE",
    "UNNAMED",
    "Attribution",
    "Clause",
    "Method",
    "Region",
    "attribute",
    "canonical_names",
    "clean",
    "person_like",
    "speaker_like",
    "title_like",
]
