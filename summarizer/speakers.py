"""Who said each quotation: reporting-pattern rules over the article's own names.

``attribute`` proposes a speaker for every quotation from the words around it, in code (the
model is asked only where these rules find nobody, see ``Quotation.asked``):

- after the closing mark: ``"…," resident Leonid Vereshchagin, a business executive, said`` /
  ``"…," said X`` / ``"…," he said``;
- before the opening mark, in the same sentence: ``X said: "…"``, ``MVP Zobrist, who helped the
  Royals to the title, said at the presentation: "…"``, ``Mr. Trump seized on the letter,
  telling voters that "…"``;
- a pronoun (``he said``, ``the 76-year-old said``) goes to the subject of the nearest earlier
  sentence that has a person as its subject, or to that sentence's own attributed speaker;
- a second quotation close by in the same paragraph, or a paragraph that opens with a quotation,
  continues the speaker before it;
- an embedded tweet (``"…" pic.twitter.com/x -- Name (@handle) date``) is its author's, and
  ``A Toblerone spokeswoman said: "…"`` the body's.

A name counts as the subject of a speech verb only when it opens a clause (sentence start, after
a comma, "and", "while", a closing quotation mark, or role words such as "Senator" or "White
House spokesman") and nothing but an appositive (", a business executive,") or a few words
stand between it and the verb: "the entrance to Trump Tower, chanting" is an object, not a
speaker. Places, demonyms and (for pronouns) organisations are never proposed.

Measured on the 173 quotations of the dev set, judged by reading each article
(``bench/speakers.py``): 136 of 136 proposals right; see CHANGELOG for the history.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

UNNAMED = "unnamed"
MAX_CANDIDATES = 6

OPENING_MARKS = '\u201c\u201e\u00ab"\u2018'  # a quotation opens with one of these
_SPEECH = (
    r"said|says|saying|told|telling|added|adding|continued|explained|explaining|stated|declared|"
    r"insisted|insisting|noted|wrote|writing|warned|warning|asked|replied|recalled|argued|claimed|"
    r"admitted|acknowledged|tweeted|tweeting|posted|announced|described|called|calling|chanted|chanting|"
    r"according\s+to|заявил\w*|сказал\w*|добавил\w*|отметил\w*|сообщил\w*|подчеркнул\w*|пояснил\w*|"
    r"рассказал\w*|заявив|сказав|зазначив\w*|додав\w*|повідомив\w*|наголосив\w*"
)
SPEECH_RE = re.compile(rf"\b({_SPEECH})\b", re.IGNORECASE)
_PRONOUN = r"\b(?:he|she|они|он|она|він|вона)\b|\bthe\s+\d+-year-old\b"
_PRONOUN_RE = re.compile(_PRONOUN, re.IGNORECASE)
# "she", "he", "his" and a possessive "her" ("with her young son"), not an object ("on her in")
_OWN_PRONOUN = re.compile(
    r"\b(?:she|he|his|her(?!\s+(?:in|on|at|to|and|or|but|for|with|by|from|as|that|if)\b)(?=\s+[^\W\d_]))\b",
    re.IGNORECASE,
)
_GENDER = {"he": "m", "she": "f", "он": "m", "она": "f", "він": "m", "вона": "f"}


def _pronoun(match: str) -> str:
    """The pronoun of a matched "he said" / "the 76-year-old said", lower case."""
    found = _PRONOUN_RE.search(match)
    return found.group(0).lower() if found else match.strip().lower()


_PRONOUN_BEFORE_VERB = re.compile(rf"(?:{_PRONOUN})\s+(?:\w+ly\s+|also\s+|later\s+|then\s+)?$", re.IGNORECASE)
_PRONOUN_START = re.compile(rf"[\s\"\u201c\u201d]*(?:{_PRONOUN})", re.IGNORECASE)
_PRONOUN_AFTER_VERB = re.compile(rf"\s*(?:{_PRONOUN})", re.IGNORECASE)

# Role words in front of a name; ``summarizer.units`` strips them from the start of a name run
# ("Deputy Chief Constable Adrian Hanstock" -> "Adrian Hanstock").
ROLE = re.compile(
    r"^(deputy|chief|constable|assistant|secretary-general|secretary|general|president|prime|minister|"
    r"governor|mayor|senator|sen|rep|officer|director|inspector|superintendent|commissioner|judge|"
    r"sir|dame|lord|lady|pope|king|queen|prince|princess|detective|sergeant|sgt|captain|colonel|"
    r"ambassador|chancellor|spokesman|spokeswoman|spokesperson|resident|councillor|councilor|"
    r"councilman|councilwoman|alderman|professor|coach|manager|lawyer|attorney|witness|chairman|"
    r"chairwoman|chair|ceo|mp|mep|lawmaker|representative|trooper|firefighter|pastor|rabbi|imam|"
    r"republican|democrat|democratic|police|speaker|mr|mrs|ms|dr|prof|businessman|businesswoman|leader|"
    r"adviser|advisor|aide|analyst|strategist|official|activist|candidate|nominee|owner|founder|"
    r"executive|student|teacher|doctor|nurse|driver|passenger|fan|survivor|eyewitness|singer|actor|"
    r"actress|star|player|striker|midfielder|defender|goalkeeper|pitcher|"
    r"pa|ap|afp|swns|un|us|uk|eu)\.?$",
    re.IGNORECASE,
)
# A name with one of these words is an organisation or a thing: "he said" never points at it.
_ORGANISATION = re.compile(
    r"\b(?:Police|Department|Ministry|Times|News|Post|Press|Party|Committee|Council|Agency|Service|"
    r"Branch|Bureau|Association|Union|International|Inc|Ltd|Corp|Company|Group|University|Office|"
    r"Court|Army|Force|Forces|Government|Series|League|Tower|House|Congress|Senate|Foundation|"
    r"Institute|Commission|Network|Club|Federation|Organisation|Organization|Authority|"
    r"Administration|Campaign|Cubs|Indians)\b"
)
# A name opens a clause after these (role words and other capitalised words stripped first).
_CLAUSE_START = re.compile(
    r"(?:^|[,;:(\u2013\u2014]|\s-|[\"\u201d\u2019]|\b(?:and|but|while|as|when|then|so|because|after|"
    r"before|where|since|until|if|though|although)\b)\s*$",
    re.IGNORECASE,
)
_OF_BODY = re.compile(r"\s+(?:from|of|at|with)\s+(?:the\s+)?$")
_VOICE_OF = re.compile(
    r"\b(?:spokes(?:man|woman|person)|statement|representative|official)s?\s+(?:for|from|of|at)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
_CONJUNCTION = re.compile(r"\b(?:while|and|but|as|when|after|before|because|whereas)\b", re.IGNORECASE)
_AFTER_VERB = re.compile(r"[\s,]*(?:(?!(?:to|in|at|on|by|from|of|with|for)\b)[a-z-]+[\s,]+){0,3}")
_TAG_REST = re.compile(r"(?:on|in|at|during|after|late|early|last|this|from|via)\b[^,;]*$", re.IGNORECASE)
_COLLECTIVE = re.compile(
    r"\s+(?:army|troops|forces|military|government|officials|authorities|soldiers|fans|voters|residents)\b"
)
_REPORTS = re.compile(
    r"^(?:Facebook|Twitter|Instagram|YouTube|TikTok|Snapchat|WhatsApp|Reddit|LinkedIn)$|"
    r"\b(?:Times|Post|News|Advertiser|Herald|Telegraph|Guardian|Journal|Gazette|Tribune|Express|Mail|"
    r"Standard|Mirror|Independent|Observer|Chronicle|Reuters|AP|AFP|BBC|CNN|MSNBC|Sky)$"
)
_PASSIVE = re.compile(r"\b(?:was|were|been|being|is|are|be)\s+$", re.IGNORECASE)
_DETERMINERS = frozenset(["a", "an", "the", "this", "that", "one", "some"])
_PREPOSITION_BEFORE = re.compile(
    r"\b(?:for|of|to|from|with|by|at|in|on|about|against|arrested|accused|charged|named|defended)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
_TO_SOMEONE = re.compile(r"told|telling|asked", re.IGNORECASE)  # the name after it was spoken to
_NAME_THEN_WORDS = re.compile(r"([A-Z][\w.'\u2019-]*)(?:['\u2019]s)?\s+(?:[a-z][\w-]*\s+){1,2}$")
_MODIFIES = re.compile(r"(?:['\u2019]s)?(?:\s+[\w-]+){1,4}\s+")
# An embedded tweet as scraped pages keep it: the text, perhaps its picture link, then
# "-- Name (@handle) November 3, 2016". The name is the author.
_TWEET_AUTHOR = re.compile(
    r"[\"\u201d.,!?]*[^\S\n]*(?:(?:pic\.twitter\.com|https?://)\S+[^\S\n]+){0,3}(?:--|\u2014|\u2013)[^\S\n]*"
    r"(?P<name>[^\W\d_][^\n\"\u201c\u201d():;@]{0,58}?)[^\S\n]*\(@\w{1,30}\)[^\S\n]+"
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
    r"[^\S\n]+\d{1,2},[^\S\n]+\d{4}"  # the embed's own date: a byline "(@jsmith)" has none
)
_BYLINE = re.compile(r"\b(?:by|photo|reporting|editing|staff|writer|contributed)\b", re.IGNORECASE)
_BODY_WORDS = re.compile(
    r"\bthe\s+(?:company|firm|brand|maker|manufacturer|chain|retailer|group|club|agency|broadcaster)\b",
    re.IGNORECASE,
)
_PERSON_TITLE = r"\b(?:Mr|Mrs|Ms|Dr|President|Senator|Sen|Governor|Gov|Mayor|Sir|Dame|Prime\s+Minister)\.?\s+"
# "A Toblerone spokeswoman said": the body (a one-word name that is nobody's surname) speaks.
_SPOKES_AFTER = re.compile(r"\s+(?:spokes(?:man|woman|person)|representative)\b", re.IGNORECASE)
_PRONOUN_REACH = 3  # sentences back; past those, "he" is for the model to judge, not the rules
_CARRY_CHARS = 400  # a second quotation of a paragraph continues the speaker only this close


class _Span(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


class _Sentence(_Span, Protocol):
    @property
    def paragraph(self) -> int: ...


class _Name(_Span, Protocol):
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Attribution:
    proposed: str | None  # the rules' speaker, if they found one
    explicit: bool  # the proposal is a name in the quotation's own "X said" pattern
    candidates: tuple[str, ...]  # names the model may choose, most likely first; UNNAMED last


@dataclass(frozen=True)
class Region:
    """One quotation: inner span ``[start, end)`` with its sentence and paragraph index."""

    start: int
    end: int
    sentence: int
    paragraph: int


def clean(name: str) -> str:
    """ "Hillary Clinton's" -> "Hillary Clinton"."""
    return re.sub(r"['\u2019]s$", "", name)


def speaker_like(name: str) -> bool:
    """Names that can speak: not a bare demonym ("Russian", "Ukrainians")."""
    return len(name.split()) > 1 or not re.search(r"(ian|ean|ese|ish|ians|eans)$", clean(name))


def person_like(name: str) -> bool:
    """A name "he" or "she" may stand for: not an organisation word, not an acronym."""
    bare = clean(name)
    return speaker_like(bare) and not _ORGANISATION.search(bare) and not re.fullmatch(r"[A-Z.&\s-]{2,}", bare)


def canonical_names(names: Sequence[_Name]) -> dict[str, str]:
    """Surname (or any last word) -> the fullest earlier name ending with it: "Tymoshenko" ->
    "Kyrylo Tymoshenko". Only when one full name fits; otherwise the short form stays."""
    full: dict[str, set[str]] = {}
    for n in names:
        parts = n.text.split()
        if len(parts) > 1:
            full.setdefault(parts[-1], set()).add(n.text)
    out: dict[str, str] = {}
    for last, forms in full.items():
        # "Martin Bamford" inside "PA Martin Bamford": the shortest form all others end with
        shortest = min(forms, key=len)
        if all(f.endswith(shortest) for f in forms):
            out[last] = shortest
    return out


def title_like(quoted: str) -> bool:
    """A quoted title, slogan or name ("Curse of the Billy Goat", "No Trump, No KKK"): its long
    words all capitalised. Nobody is quoted saying it."""
    words = re.findall(r"[^\W\d_]+", quoted)
    if quoted.isupper():
        return False  # "NO COLLUSION, NO OBSTRUCTION!": somebody shouted it
    long = [w for w in words if len(w) > 3 or w.isupper()]
    return 0 < len(words) <= 8 and bool(long) and all(w[0].isupper() for w in long)


class _Rules:
    def __init__(
        self,
        text: str,
        *,
        paragraphs: Sequence[_Span],
        sentences: Sequence[_Sentence],
        names: Sequence[_Name],
        places: frozenset[str],
        quotes: Sequence[Region],
    ) -> None:
        self.text = text
        self.paragraphs = paragraphs
        self.sentences = sentences
        self.places = places
        self.quote_spans = [(r.start, r.end) for r in quotes]
        self.names = [n for n in names if not self._inside_quote(n.start)]
        self._index = {n.start: k for k, n in enumerate(self.names)}
        self._starts = [n.start for n in self.names]
        self.canonical = canonical_names(names)
        self._subjects: dict[int, str | None] = {}
        self._genders: dict[str, str | None] = {}

    def _inside_quote(self, pos: int) -> bool:
        return any(a <= pos < b for a, b in self.quote_spans)

    def full(self, name: str) -> str:
        name = clean(name)
        return self.canonical.get(name, name) if len(name.split()) == 1 else name

    def speaker(self, n: _Name, *, person: bool = False) -> bool:
        """Whether ``n`` may be proposed as who said something."""
        name = clean(n.text)
        if name in self.places or self.full(name) in self.places or ROLE.match(name):
            return False
        if _COLLECTIVE.match(self.text, n.end):
            return False  # "the Moscow army", "Kremlin officials": the name is not who speaks
        return speaker_like(name) and (not person or person_like(name))

    def opens_clause(self, n: _Name, floor: int) -> bool:
        """``n`` stands where a subject stands: not after a preposition or a verb, not a
        possessive ("Comey's letter")."""
        if self.text[n.end : n.end + 2] in ("'s", "\u2019s"):
            return False
        before = self.text[max(floor, n.start - 160) : n.start]
        cut = n.start - 160 > floor  # a window of a longer sentence: no sentence start in it
        while True:
            leftmost = None  # strip "White House spokesman ", "Senator ", "Republican House Speaker "
            while (m := re.search(r"([^\W\d_][\w.'\u2019-]*)\s+$", before)) and (
                ROLE.match(m.group(1)) or (m.group(1)[0].isupper() and m.group(1).lower() not in _DETERMINERS)
            ):
                before, leftmost = before[: m.start()], m.group(1)
            if leftmost is None and re.search(r"\b[Tt]he\s+$", before):
                before = re.sub(r"[Tt]he\s+$", "", before)  # "The Rail Accident Investigation Branch said"
            # "Clinton communications director ": a name and lowercase words before the role
            m = _NAME_THEN_WORDS.search(before) if leftmost and ROLE.match(leftmost) else None
            if m is None:
                break
            before = before[: m.start()]
        return (not before.strip() and not cut) or bool(_CLAUSE_START.search(before))

    def linked(self, n: _Name, verb: re.Match[str], verb_start: int) -> bool:
        """Nothing but appositives (", 30, a passenger,") or a few words between the name and
        its speech verb; the name may itself be the appositive ("his manager, X, told")."""
        between = self.text[n.end : verb_start]
        if re.search(r"[.!?\"\u201c\u201d]", between) or _PASSIVE.search(between):
            return False  # "after Trump was declared the winner" is no speech of Trump's
        between = re.sub(r"\s[-\u2013\u2014]\s", ", ", between)  # "Perry - who stripped off - called"
        bare = between.strip()
        if not bare or bare == "," or (bare.startswith(",") and bare.endswith(",") and len(bare) <= 200):
            return True
        words = between.split()
        if len(words) <= 3 and "," not in between:
            return True
        participle = verb.group(1).lower().endswith("ing")  # "X was heard on the radio saying"
        return participle and len(words) <= 8 and between.count(",") <= 1

    def head(self, n: _Name) -> _Name:
        """ "Robin Smith from British Transport Police told": the person before "from", not the
        body after it."""
        m = _OF_BODY.search(self.text, max(0, n.start - 30), n.start)
        if m is not None:
            for p in self.names:
                if p.end == m.start() and self.speaker(p, person=True):
                    return p
        return n

    def body_voice(self, n: _Name, paragraph: int) -> bool:
        """ "A Toblerone spokeswoman said": after a determiner and before "spokeswoman", a
        one-word name the article shows to be a body: an acronym or organisation word ("A BBC
        spokesman"), or a name beside "the company" (or firm, brand, ...) in ``paragraph`` (the
        quotation's, which holds the name) or the one before, never a surname, never written
        with a title or "he"/"she". "A Biden spokesman" is not Biden's own voice: left to the
        model."""
        name = clean(n.text)
        before = self.text[max(0, n.start - 6) : n.start]
        if not (
            _SPOKES_AFTER.match(self.text, n.end) is not None
            and re.search(r"(?:^|\s)(?:[Aa]n?|[Tt]he)\s+$", before) is not None
            and len(name.split()) == 1
            and self.full(name) == name
        ):
            return False
        if not person_like(name):
            return True
        around = self.text[self.paragraphs[max(0, paragraph - 1)].start : self.paragraphs[paragraph].end]
        titled = re.search(rf"{_PERSON_TITLE}{re.escape(name)}\b", self.text) is not None
        return bool(_BODY_WORDS.search(around)) and not titled and self.gender(name) is None

    def tweet_author(self, r: Region) -> tuple[str | None, str | None] | None:
        """'"…" pic.twitter.com/x -- Papi (@Kxngsosa) November 3, 2016': an embedded tweet's author."""
        tweet = _TWEET_AUTHOR.match(self.text, r.end + 1, r.end + 200)
        if tweet is None or _BYLINE.search(tweet.group("name")):
            return None
        return tweet.group("name").strip(), None

    def voice_of(self, n: _Name) -> bool:
        """ "a spokesperson for the British Transport Police said": the body speaks."""
        return _VOICE_OF.search(self.text, max(0, n.start - 60), n.start) is not None

    def after_quote(self, r: Region, sentence: _Sentence) -> tuple[str | None, str | None] | None:
        """``"…," X said`` / ``"…," said X`` / ``"…," he said``; (None, False) when a speech
        verb follows with nobody named (``"…," a spokeswoman said``)."""
        qe, e = r.end, sentence.end
        if not self.text[qe + 1 : e].strip(' "\u201d\u00bb,.!?') and r.sentence + 1 < len(self.sentences):
            e = self.tag_end(r.sentence + 1) or e  # '"… EXONERATION!" President Trump tweeted.'
        window = self.text[qe + 1 : min(e, qe + 161)]
        verb = SPEECH_RE.search(window)
        if verb is None or re.search(r"[\"\u201c\u00ab]", window[: verb.start()]):
            return None
        v0, v1 = qe + 1 + verb.start(), qe + 1 + verb.end()
        to_someone = (
            _TO_SOMEONE.fullmatch(verb.group(1)) is not None
        )  # "told Reuters", "told the 76-year-old"
        pronoun = _PRONOUN_BEFORE_VERB.search(window[: verb.start()]) or (
            None if to_someone else _PRONOUN_AFTER_VERB.match(window, verb.end())
        )
        if pronoun:
            return None, _pronoun(pronoun.group(0))  # ", he said" / ", said he"
        for n in self.names:
            if qe < n.start and n.end <= v0 and self.speaker(n) and not self.possessive(n):
                if _CONJUNCTION.search(self.text[qe : n.start]):
                    return None  # '"…" while Max Verstappen agreed saying': another clause's verb
                if not self.linked(n, verb, v0):
                    continue
                if (person := self.head(n)) is not n:
                    return person.text, None  # ", Rob Dale from British Transport Police told"
                if not self.object_of(n):  # not ", a lawyer for Harvey Weinstein said"
                    return self.modified(n).text, None  # ", resident X, a business executive, said"
        for n in self.names:
            if not to_someone and v1 <= n.start < min(e, v1 + 40) and self.speaker(n):
                if _AFTER_VERB.fullmatch(self.text[v1 : n.start]):
                    return self.modified(n).text, None  # ", said X", ", said Kremlin spokesman X"
                break
        return None, None

    def tag_end(self, index: int) -> int | None:
        """End of sentence ``index`` when it is only a speech tag for the quotation before it
        ("President Donald Trump tweeted on Sunday."): no quotation of its own, and after its
        speech verb two words at most or a phrase of time or place, not a clause ("X said the
        plan was unfunded")."""
        s = self.sentences[index]
        text = self.text[s.start : s.end]
        verb = SPEECH_RE.search(text)
        if verb is None or re.search(r"[\"\u201c\u201d\u00ab\u00bb]", text):
            return None
        rest = text[verb.end() :].strip(" .!?")
        short = len(rest.split()) <= 2 or _TAG_REST.match(rest) is not None
        return s.end if short else None

    def before_quote(self, r: Region, sentence: _Sentence) -> tuple[str | None, str | None] | None:
        """``X said: "…"`` and its longer forms, in the quotation's own sentence."""
        s, qs = sentence.start, r.start - 1
        head = self.text[s:qs]
        verbs = [
            v
            for v in SPEECH_RE.finditer(head)
            if not re.search(r"[\"\u201c\u201d\u00ab\u00bb]", head[v.end() :]) and len(head) - v.end() <= 120
        ]
        if not verbs:
            return None
        verb = verbs[-1]
        v0 = s + verb.start()
        if pronoun := _PRONOUN_BEFORE_VERB.search(head[: verb.start()]):
            return None, _pronoun(pronoun.group(0))  # "she said: …", "the 76-year-old said: …"
        subjects = [
            n
            for n in self.names
            if s <= n.start
            and n.end <= v0
            and self.speaker(n)
            and not self.possessive(n)
            and self.linked(n, verb, v0)
            and (
                self.opens_clause(n, s)
                or (self.voice_of(n) and not person_like(n.text))
                or self.body_voice(n, r.paragraph)
            )
        ]
        if subjects:
            return self.head(self.modified(subjects[-1])).text, None
        return None, None

    def object_of(self, n: _Name) -> bool:
        """A name after a preposition ("a lawyer for X", "the mother of X") is not the speaker,
        except a body a spokesperson speaks for ("a spokeswoman for the Police")."""
        if not _PREPOSITION_BEFORE.search(self.text, max(0, n.start - 20), n.start):
            return False
        return not (self.voice_of(n) and not person_like(n.text))

    def modified(self, n: _Name) -> _Name:
        """ "White House spokesman Sean Spicer", "Clinton communications director Jennifer
        Palmieri": the person the role words lead to, not the name before them."""
        k = self._index.get(n.start)
        nxt = self.names[k + 1] if k is not None and k + 1 < len(self.names) else None
        if nxt is None or nxt.start - n.end > 60:
            return n
        between = self.text[n.end : nxt.start]
        words = between.split()
        if (
            _MODIFIES.fullmatch(between)
            and words
            and ROLE.match(words[-1])
            and self.speaker(nxt, person=True)
        ):
            return nxt
        return n

    def possessive(self, n: _Name) -> bool:
        return self.text[n.end : n.end + 2] in ("'s", "\u2019s") or n.text.endswith(("'s", "\u2019s"))

    def speech_subject(self, index: int) -> str | None:
        """The last person in sentence ``index`` who opens a clause and is linked to a speech
        verb after them ("… Assistant Chief Robert Merner said the incident …", "Mark Davis,
        who leads the opposition, said …"), outside quotations."""
        sentence = self.sentences[index]
        for n in reversed(self.names):
            if not sentence.start <= n.start < sentence.end:
                continue
            verb = SPEECH_RE.search(self.text, n.end, min(sentence.end, n.end + 200))
            if (
                verb is not None
                and self.speaker(n, person=True)
                and not self.possessive(n)
                and not self.object_of(n)
                and self.linked(n, verb, verb.start())
                and (self.opens_clause(n, sentence.start) or not self.text[n.end : verb.start()].strip())
            ):
                return self.full(self.head(n).text)
        return None

    def subject(self, index: int) -> str | None:
        """Who sentence ``index`` is about, for "he said" after it: a person with a speech verb
        right after them, else the first person that opens a clause, outside quotations
        ("Clinton communications director Jennifer Palmieri" is Palmieri)."""
        if index in self._subjects:
            return self._subjects[index]
        sentence = self.sentences[index]
        found = None
        if not _PRONOUN_START.match(self.text, sentence.start):  # "She said Mr Trump's …": further back
            found = self.speech_subject(index)
            names = [n for n in self.names if sentence.start <= n.start < sentence.end]
            ordered = [n for n in names if not self.possessive(n)] + [n for n in names if self.possessive(n)]
            for n in ordered if found is None else []:  # a possessive ("Gaga's protest …") last
                if self.speaker(n, person=True) and self.opens_clause(n, sentence.start):
                    found = self.full(self.modified(n).text)
                    break
        self._subjects[index] = found
        return found

    def attribute(self, regions: Sequence[Region]) -> list[Attribution]:
        out: list[Attribution] = []
        by_sentence: dict[int, str] = {}  # sentence index -> speaker of a quotation in it
        previous: tuple[Region, str | None] | None = None  # the quotation before, and its speaker
        for r in regions:
            sentence = self.sentences[r.sentence]
            found = self.tweet_author(r) or self.after_quote(r, sentence)
            if found is None or found == (None, None):  # '"…," a spokeswoman said': look before too
                found = self.before_quote(r, sentence) or found
            name, pronoun = found if found else (None, None)
            if name is None and title_like(self.text[r.start : r.end]):
                out.append(Attribution(None, False, (UNNAMED,)))  # "Curse of the Billy Goat"
                previous = (r, None)
                continue
            proposed = self.full(name) if name else None
            if proposed is None and pronoun:
                proposed = self.resolve(r, by_sentence, pronoun)
            if found is None and previous is not None:
                proposed = self.carried(r, *previous)
            if proposed and name is None and not self.in_view(proposed, r):
                proposed = None  # carried from too far back: grounding would not find them
            if proposed:
                by_sentence[r.sentence] = proposed
            previous = (r, proposed)
            # with nobody proposed, the nearest earlier person subject leads the names offered
            hint = self.resolve(r, by_sentence, pronoun) if proposed is None else proposed
            if proposed is None and hint and _REPORTS.search(hint):
                hint = None  # a platform or a paper is not offered (see candidates)
            out.append(Attribution(proposed, name is not None, self.candidates(r, hint)))
        return out

    def carried(self, r: Region, before: Region, speaker: str | None) -> str | None:
        """No speech verb at all: the words go on from the quotation just before, when it is
        close by in the same paragraph or ends the paragraph this one opens with; unless
        someone else is said to speak in between ("Mark Davis said the plan was unfunded")."""
        opens = self.text[self.paragraphs[r.paragraph].start] in OPENING_MARKS
        close = before.paragraph == r.paragraph and r.start - before.end <= _CARRY_CHARS
        if not (close or (before.paragraph == r.paragraph - 1 and opens)):
            return None
        for index in range(r.sentence - 1, before.sentence, -1):
            if other := self.speech_subject(index):
                return other
        return speaker

    def resolve(self, r: Region, by_sentence: dict[int, str], pronoun: str | None = None) -> str | None:
        """ "he said": the nearest earlier sentence's attributed speaker or person subject,
        within the quotation's paragraph and the two before, and three sentences back; one
        the article writes of as "she" is passed over for "he" (and the reverse)."""
        floor = max(0, r.paragraph - 2)
        for index in range(r.sentence - 1, max(-1, r.sentence - 1 - _PRONOUN_REACH), -1):
            if self.sentences[index].paragraph < floor:
                break
            found = by_sentence.get(index) or self.subject(index)
            if found and not self.other_gender(found, pronoun):
                return found
        return None

    def other_gender(self, name: str, pronoun: str | None) -> bool:
        """Whether the article writes of ``name`` with the other set of pronouns than
        ``pronoun`` ("Lilia Ristich is sitting … with her young son" is no "he")."""
        want = _GENDER.get(pronoun or "")
        if want is None:
            return False
        if name not in self._genders:
            self._genders[name] = self.gender(name)
        have = self._genders[name]
        return have is not None and have != want

    def gender(self, name: str) -> str | None:
        """ "f" or "m": from titles (Mrs, Ms, Miss / Mr) and from the first pronoun after the
        name in its sentence when no other name comes between ("Lilia Ristich is sitting …
        with her young son"; an object "her" is no evidence); None when the article does not
        say or says both."""
        last = re.escape(name.rsplit(maxsplit=1)[-1])
        votes = {"f": 0, "m": 0}
        for m in re.finditer(rf"\b(?:(Mrs|Ms|Miss|Mr)\.?\s+)?(?:[^\W\d_][\w'-]*\s+)?{last}\b", self.text):
            if m.group(1):
                votes["m" if m.group(1) == "Mr" else "f"] += 1
            after = re.split(r"[.!?\"\u201c\u201d]", self.text[m.end() : m.end() + 120], maxsplit=1)[0]
            pronoun = _OWN_PRONOUN.search(after)
            if pronoun and not any(m.end() < n.start < m.end() + pronoun.start() for n in self.names):
                votes["f" if pronoun.group(0).lower().startswith(("she", "her")) else "m"] += 1
        if votes["f"] == votes["m"]:
            return None
        return "f" if votes["f"] > votes["m"] else "m"

    def _first_at(self, pos: int) -> int:
        return bisect.bisect_left(self._starts, pos)

    def in_view(self, name: str, r: Region) -> bool:
        view = self.text[self.paragraphs[max(0, r.paragraph - 2)].start : r.end]
        return name.rsplit(maxsplit=1)[-1] in view

    def candidates(self, r: Region, proposed: str | None) -> tuple[str, ...]:
        """The proposal first, then speaker-like names of the paragraph and its neighbours; not
        a platform or a paper, which carry and report words (the 1.5B model chose "Facebook",
        "Twitter" and "Croydon Advertiser" from share residue and credits on the dev set)."""
        pk = r.paragraph
        lo = self.paragraphs[max(0, pk - 1)].start
        hi = self.paragraphs[min(len(self.paragraphs) - 1, pk + 1)].end
        out = [proposed] if proposed else []
        for n in self.names[self._first_at(lo) :]:
            if n.start >= hi or len(out) >= MAX_CANDIDATES - 1:
                break
            if n.end > hi or not self.speaker(n) or _REPORTS.search(n.text):
                continue
            if self.text[max(0, n.start - 1) : n.start] in ("/", "@"):
                continue  # "pic.twitter.com/X8ox2wMl8H", "(@Kxngsosa)": a link or a handle
            if (name := self.full(n.text)) not in out:
                out.append(name)
        return (*out, UNNAMED)


def attribute(
    text: str,
    *,
    paragraphs: Sequence[_Span],
    sentences: Sequence[_Sentence],
    names: Sequence[_Name],
    places: frozenset[str],
    regions: Sequence[Region],
) -> list[Attribution]:
    """A speaker proposal and the names to choose from, for each quotation region in order."""
    rules = _Rules(
        text, paragraphs=paragraphs, sentences=sentences, names=names, places=places, quotes=regions
    )
    return rules.attribute(regions)
