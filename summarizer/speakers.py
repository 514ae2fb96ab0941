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
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from summarizer import first_names

UNNAMED = "unnamed"
MAX_CANDIDATES = 6
Method = Literal["clause", "continuation", "pronoun", "model", "unnamed"]

OPENING_MARKS = '\u201c\u201e\u00ab"\u2018'  # a quotation opens with one of these
_MARKS = '"\u201c\u201d\u201e\u00ab\u00bb'

# -- the speech verbs: lemmas and their forms ----------------------------------------------------

_LEMMAS = """
    say tell add continue explain state declare insist note write warn ask reply respond recall
    argue claim admit acknowledge tweet post announce describe call chant shout yell scream cry
    whisper joke quip boast complain concede conclude suggest predict promise vow pledge urge demand
    assert contend maintain observe remark comment read testify confirm deny blast slam accuse mock
    criticize criticise praise compare characterize characterise tout agree stress emphasize
    emphasise sing mention report answer wonder lament repeat reiterate proclaim exclaim muse plead
    beg caution advise recount charge allege counter fume thunder retort sneer scoff gush rave lash
    talk speak think believe know hope feel fear rate exhort liken
""".split()  # noqa: SIM905
_IRREGULAR = {
    "say": "say says said saying",
    "tell": "tell tells told telling",
    "write": "write writes wrote written writing",
    "read": "reads read reading",  # "the statement reads"; the bare "read" only as past
    "sing": "sing sings sang sung singing",
    "speak": "speak speaks spoke spoken speaking",
    "admit": "admit admits admitted admitting",
    "quip": "quip quips quipped quipping",
    "counter": "counters countered countering",
    "post": "posts posted posting",
}


def _forms(lemma: str) -> list[str]:
    if lemma in _IRREGULAR:
        return _IRREGULAR[lemma].split()
    if lemma.endswith("ee"):
        return [lemma, lemma + "s", lemma + "d", lemma + "ing"]
    if lemma.endswith("e"):
        return [lemma, lemma + "s", lemma + "d", lemma[:-1] + "ing"]
    if lemma.endswith("y") and lemma[-2] not in "aeiou":
        return [lemma, lemma[:-1] + "ies", lemma[:-1] + "ied", lemma + "ing"]
    plural = lemma + ("es" if lemma.endswith(("s", "sh", "ch", "x")) else "s")
    return [lemma, plural, lemma + "ed", lemma + "ing"]


_LEMMA_SET = frozenset(_LEMMAS)
_DETERMINER_NEAR = re.compile(
    r"(?:\b(?:a|an|the|his|her|their|its|this|that|these|those)(?:\s+[a-z][\w-]*){1,2}"
    r"|\b(?:of|with|for|by)(?:\s+[\w-]+){1,2})\s+$"
)
_VERB_FORMS = frozenset(f for lemma in _LEMMAS for f in _forms(lemma))
_SPEECH = "|".join(sorted(_VERB_FORMS, key=len, reverse=True))
_CYRILLIC_SPEECH = (
    r"заявил\w*|сказал\w*|добавил\w*|отметил\w*|сообщил\w*|подчеркнул\w*|пояснил\w*|рассказал\w*|"
    r"заявив|сказав|зазначив\w*|додав\w*|повідомив\w*|наголосив\w*"
)
SPEECH_RE = re.compile(rf"\b({_SPEECH}|{_CYRILLIC_SPEECH}|according\s+to|put\s+it)\b", re.IGNORECASE)
# Verbs that come before their subject after a quotation ('"…," said Caddell'); "told the
# paper" and "answering questions" name a listener or an object, never who speaks.
_INVERTIBLE = frozenset(
    """said says asked added continued wrote explained recalled insisted noted replied declared
    remarked observed warned argued countered quipped conceded stated concluded responded
    according""".split()  # noqa: SIM905
)
# Subjects that are a bare plural noun: "officials said", "analysts say".
_PLURAL_SPEAKERS = re.compile(
    r"^(?:officials|analysts|critics|experts|residents|witnesses|police|authorities|investigators|"
    r"prosecutors|lawyers|attorneys|sources|aides|advisers|advisors|organizers|organisers|"
    r"researchers|scientists|doctors|economists|protesters|supporters|opponents|democrats|republicans|"
    r"voters|parents|students|teachers|officers|leaders|observers|participants|respondents|americans)$",
    re.IGNORECASE,
)
# An appositive or tag between a subject and its verb: ", a business executive,", ", 59,",
# ", of Ashton,", ", Md.,", ", R-Ky.,", ", who leads the opposition,".
_APPOSITIVE = re.compile(
    r"^\s*(?:[a-z\d(]|(?:[Tt]he|An?|Of|From|Who)\b|[RDI]-[A-Z]|[A-Z][a-z]{1,4}\.$|Jr\.?$|Sr\.?$)"
)
_NOUN_BEFORE = re.compile(
    r"(?:\b(?:a|an|the|his|her|their|its|our|my|your|this|that|following|whose|every|no|of|with|by|for|from|about)\s+|['\u2019]s\s+|\bso-)$",
    re.IGNORECASE,
)
_PASSIVE_BEFORE = re.compile(r"\b(?:was|were|been|being|is|are|be)\s+$", re.IGNORECASE)

# -- words of a noun phrase ----------------------------------------------------------------------

_PRONOUNS = {"he": "m", "she": "f", "they": None, "it": None, "we": None, "i": None, "who": None,
             "он": "m", "она": "f", "він": "m", "вона": "f"}  # fmt: skip
_SKIP_BEFORE_VERB = frozenset(
    """has have had was were is are will would also later then again once just even still never
    not did does do could can might may should must previously recently repeatedly reportedly
    further simply initially subsequently first finally""".split()  # noqa: SIM905
)
_STOP = frozenset(
    """and or but while as when where whereas because if though although that which whom whose
    than so then after before since until unless in on to by into onto over under about against
    during through between without within upon via per like not no nor yes this these those there
    here what how why said says told was were is are be been being has have had do does did will
    would can could should may might must also than amid despite near outside inside across behind
    beside along around toward towards beyond among who whom which""".split()  # noqa: SIM905
)
_DETERMINERS = frozenset(
    """
    a an the one another some his her their its our my your this that
    """.split()  # noqa: SIM905
)
_STOP_AFTER_VERB = _STOP - _DETERMINERS  # "said the president": a determiner starts the subject
_PREPOSITIONS = frozenset(
    """
    of for from at with
    """.split()  # noqa: SIM905
)
# Role words in front of a name; ``summarizer.units`` strips them from the start of a name run
# ("Deputy Chief Constable Adrian Hanstock" -> "Adrian Hanstock").
ROLE = re.compile(
    r"^(deputy|chief|constable|assistant|secretary-general|secretary|general|president|prime|minister|"
    r"governor|gov|mayor|senator|sen|rep|officer|director|inspector|superintendent|commissioner|judge|"
    r"sir|dame|lord|lady|pope|king|queen|prince|princess|detective|sergeant|sgt|captain|colonel|"
    r"ambassador|chancellor|spokesman|spokeswoman|spokesperson|resident|councillor|councilor|"
    r"councilman|councilwoman|alderman|professor|coach|manager|lawyer|attorney|witness|chairman|"
    r"chairwoman|chair|ceo|mp|mep|lawmaker|representative|trooper|firefighter|pastor|rabbi|imam|"
    r"republican|democrat|democratic|police|speaker|mr|mrs|ms|dr|prof|businessman|businesswoman|leader|"
    r"adviser|advisor|aide|analyst|strategist|official|activist|candidate|nominee|owner|founder|"
    r"executive|student|teacher|doctor|nurse|driver|passenger|fan|survivor|eyewitness|singer|actor|"
    r"actress|star|player|striker|midfielder|defender|goalkeeper|pitcher|mvp|"
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
_REPORTS = re.compile(
    r"^(?:Facebook|Twitter|Instagram|YouTube|TikTok|Snapchat|WhatsApp|Reddit|LinkedIn)$|"
    r"\b(?:Times|Post|News|Advertiser|Herald|Telegraph|Guardian|Journal|Gazette|Tribune|Express|Mail|"
    r"Standard|Mirror|Independent|Observer|Chronicle|Reuters|AP|AFP|BBC|CNN|MSNBC|Sky|Press)$"
)
_CREDIT_BEFORE = re.compile(r"(?:photo|picture|image|credit|caption|video|getty|pictured)\W*$", re.IGNORECASE)
_TRANSCRIPT = re.compile(r"[\"\u201c]?\s*([A-Z][A-Z.'\u2019 -]{1,40}[A-Z.]):\s")
_NOT_LABELS = re.compile(r"^(?:UPDATE|EDITOR'?S NOTE|WATCH|READ MORE|PHOTOS?|VIDEO|RELATED|NOTE|Q|A)$")
# An embedded tweet as scraped pages keep it: the text, perhaps its picture link, then
# "-- Name (@handle) November 3, 2016". The name is the author.
_TWEET_AUTHOR = re.compile(
    r"[\"\u201d.,!?]*[^\S\n]*(?:(?:pic\.twitter\.com|https?://)\S+[^\S\n]+){0,3}(?:--|\u2014|\u2013)[^\S\n]*"
    r"(?P<name>[^\W\d_][^\n\"\u201c\u201d():;@]{0,58}?)[^\S\n]*\(@\w{1,30}\)[^\S\n]+"
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
    r"[^\S\n]+\d{1,2},[^\S\n]+\d{4}"  # the embed's own date: a byline "(@jsmith)" has none
)
_BYLINE = re.compile(r"\b(?:by|photo|reporting|editing|staff|writer|contributed)\b", re.IGNORECASE)
_TITLE_GENDER = {
    "mr": "m",
    "mrs": "f",
    "ms": "f",
    "miss": "f",
    "sir": "m",
    "lady": "f",
    "dame": "f",
    "lord": "m",
}
_OWN_PRONOUN = re.compile(
    r"\b(?:she|he|his|her(?!\s+(?:in|on|at|to|and|or|but|for|with|by|from|as|that|if)\b)(?=\s+[^\W\d_]))\b",
    re.IGNORECASE,
)
# A sentence start that lost its full stop in a scraped page: a lowercase word, then a capitalised
# word that starts sentences.
_RUN_ON = re.compile(r"[a-z,]\s+((?:The|There|It|He|She|They|We|This|That|But|And|In|On|When)\s)")
# A name that only modifies what follows it: lowercase words, then a role word or another name.
_ROLE_HEADS = r"spokes(?:man|woman|person)|director|manager|chairman|secretary|adviser|aide|chief"
_MODIFIER = re.compile(
    rf"(?:['\u2019]s)?(?:\s+[a-z][\w-]*){{0,2}}\s+(?:{_ROLE_HEADS}|officials?|officers?|police|campaign|"
    r"army|troops|forces|government|administration|team|staff|supporters|fans|voters)\b"
)
# Before these a noun phrase is an object: "the driver told him near the stop", "sent to Trump".
_OBJECT_BEFORE = frozenset(
    """in on to by into onto over under about against during through between without within upon
    via per like amid despite near outside inside across behind beside along around toward towards
    beyond among""".split()  # noqa: SIM905
)
_TAG_REST = re.compile(r"(?:on|in|at|during|after|late|early|last|this|from|via|to)\b[^,;]*$", re.IGNORECASE)
# A new clause between a speech verb and a quotation: the quotation is not that verb's.
_NEW_CLAUSE = re.compile(
    r"[,;]\s*(?:but|and|while|as|although|though|yet|when|whereas)\s+(?:as\s+)?"
    r"(?:[A-Z][a-z]|(?:he|she|they|it|there|i|we|the|a|an)\b)|;"
)
# "Clinton communications director Jen Parkes": the name after the role words is the head.
_MODIFIED_HEAD = re.compile(
    r"(?:^|[,;:]\s*|\b(?:and|but)\s+)(?:[A-Z][\w.'\u2019-]*\s+)+(?:[a-z][\w-]*\s+){0,3}"
    rf"(?:{_ROLE_HEADS}|official)\s+$"
)
_SENTENCE_OPENERS = frozenset("A An The This That It He She They There We".split())  # noqa: SIM905
_TOKEN = re.compile(r"\([^()\n]{0,40}\)|[^\W\d_][\w.'\u2019-]*|\d[\w.,%-]*|\S")
_SAME_PRONOUN = {"m": re.compile(r"\s*(?:He|he)\b"), "f": re.compile(r"\s*(?:She|she)\b")}
_PRONOUN_REACH = 3  # sentences back for "he said"
_CARRY_CHARS = 300  # a later quotation of a paragraph continues the speaker only this close
_AFTER_WINDOW = 160  # characters after a closing mark searched for its tag
_BEFORE_WORDS = 30  # at most this many words between a speech verb and the quotation it opens


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
class _Phrase:
    """A noun phrase that is a clause's subject: its span, and the speaker it names."""

    start: int
    end: int
    speaker: str | None  # a name or description; None for a pronoun
    pronoun: str | None = None
    person: bool = False  # the speaker is a name that can be a person
    name_start: int = -1  # where the name itself is written (a name inside a longer phrase)
    name_end: int = -1


def _tidy(words: list[str]) -> list[str]:
    """A name's words without the residue of a scraped page or the role words before it:
    "Brexit Gemma Pryor Gemma Pryor" (a caption run) -> Gemma Pryor, "PA Toblerone" (a picture
    agency's credit) -> Toblerone, "MVP Zobrist" -> Zobrist."""
    for k in range(len(words) // 2, 0, -1):
        if words[-k:] == words[-2 * k : -k]:
            words = words[-k:]
            break
    while len(words) > 1 and ROLE.match(words[0]) and not _STYLED.match(words[0]):
        words = words[1:]
    return words


_STYLED = re.compile(
    r"^(?:lady|sir|dame|lord|king|queen|prince|princess|pope)$", re.IGNORECASE
)  # "Lady Gaga"


_LY_NOUNS = frozenset(
    "family ally rally assembly supply reply july italy anomaly monopoly homily bully belly".split()  # noqa: SIM905
)


# Participles that are adjectives in a subject: "registered voters", "retired general".
_ED_ADJECTIVES = frozenset(
    """registered elected unnamed retired concerned unidentified armed masked injured wounded
    detained accused alleged interested qualified licensed experienced unaffiliated undecided
    self-described so-called""".split()  # noqa: SIM905
)


def _verb_like(word: str) -> bool:
    """A lowercase past form or speech verb ("arrested", "filed", "said"), not an adjective."""
    return word.islower() and (word.endswith("ed") or word in _VERB_FORMS) and word not in _ED_ADJECTIVES


def _adverb(word: str) -> bool:
    """ "repeatedly", "angrily": not "family" or "ally"."""
    low = word.lower()
    return low.endswith("ly") and len(low) > 4 and low not in _LY_NOUNS and word.islower()


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
        parts = _tidy(n.text.split())
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


def _head(tokens: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The head of a noun phrase's tokens: after the last possessor, before the first
    "of/for/from/at/with", without parentheses ("(D-Mo.)"); empty when there is none."""
    head = tokens
    for k, t in enumerate(tokens):
        if t[2].endswith(("'s", "\u2019s", "s'")) and k + 1 < len(tokens):
            head = tokens[k + 1 :]
    for k, t in enumerate(head):
        if t[2].lower() in _PREPOSITIONS and k:
            head = head[:k]
            break
    head = [t for t in head if not t[2].startswith("(")]
    return [] if not head or head[-1][2] == "," else head


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


class _Reader:
    """The article's reporting clauses, phrases and people, for one ``attribute`` call."""

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
        self.quote_spans = sorted((r.start, r.end) for r in quotes)
        self.names = [n for n in names if not self.inside_quote(n.start)]
        self._starts = [n.start for n in self.names]
        self._sentence_starts = [s.start for s in sentences]
        self.canonical = canonical_names(names)
        self.full_names = frozenset(
            clean(n.text) for n in names if len(n.text.split()) > 1 and not ROLE.match(n.text.split()[0])
        )
        self.surnames = frozenset(n.split()[-1] for n in self.full_names)
        self._genders: dict[str, str | None] = {}

    # -- positions ---------------------------------------------------------------------------

    def opens_clause(self, n: _Name, sentence_start: int) -> bool:
        """``n`` stands where a subject stands: at the sentence's start, or after a comma, a
        colon, "and"/"but"/"while", past role words and titles ("and spokeswoman Jennifer
        Palmieri", "After meeting Obama, Trump")."""
        if re.match(r"['\u2019]?s?\s*(?:[.!?]|$)", self.text[n.end : n.end + 3]):
            return False  # "… with her young son, Artur.": the sentence ends on it, an object
        before = self.text[sentence_start : n.start]
        if _MODIFIED_HEAD.search(before):
            return True  # "Clinton communications director Jen Parkes came …"
        while m := re.search(r"([^\W\d_][\w.'\u2019-]*)\s+$", before):
            word = m.group(1)
            if not (ROLE.match(word) or word.lower() in ("the", "a", "an") or _capitalised(word)):
                break
            before = before[: m.start()]
        return (
            not before.strip()
            or re.search(r"(?:[,;:\u2014\u2013\"\u201d]|\b(?:and|but|while|as|when))\s*$", before) is not None
        )

    def possessive(self, n: _Name) -> bool:
        return self.text[n.end : n.end + 2] in ("'s", "\u2019s") or n.text.endswith(("'s", "\u2019s"))

    def sentence_at(self, pos: int) -> int:
        """Index of the sentence holding ``pos`` (the last one starting at or before it)."""
        return max(0, bisect.bisect_right(self._sentence_starts, pos) - 1)

    def inside_quote(self, pos: int) -> bool:
        k = bisect.bisect_right(self.quote_spans, (pos, len(self.text) + 1)) - 1
        return k >= 0 and self.quote_spans[k][0] <= pos < self.quote_spans[k][1]

    def names_in(self, lo: int, hi: int) -> list[_Name]:
        k = bisect.bisect_left(self._starts, lo)
        out = []
        while k < len(self.names) and self.names[k].start < hi:
            if self.names[k].end <= hi:
                out.append(self.names[k])
            k += 1
        return out

    def paragraph_opens_with_mark(self, r: Region) -> bool:
        p = self.paragraphs[r.paragraph]
        lead = self.text[p.start : r.start - 1]
        return not lead.strip() and self.text[r.start - 1 : r.start] in OPENING_MARKS

    # -- noun phrases --------------------------------------------------------------------------

    def phrase(self, a: int, b: int) -> _Phrase | None:
        """The noun phrase ``text[a:b]`` as a speaker, or None when it is not one."""
        while a < b and self.text[a] in " ,\n":
            a += 1
        while b > a and self.text[b - 1] in " ,\n":
            b -= 1
        words = self.text[a:b]
        if not words or len(words) > 160 or any(m in words for m in _MARKS):
            return None
        low = words.lower()
        if low in _PRONOUNS:
            return _Phrase(a, b, None, pronoun=low)
        last_word = re.search(r"(?:^|\s)([^\W\d_]+)$", words)
        if last_word and last_word.group(1) in ("he", "she", "they", "we"):  # "after the show she said"
            return _Phrase(a + last_word.start(1), b, None, pronoun=last_word.group(1))
        if re.fullmatch(r"the\s+\d+-year-old", low):
            return _Phrase(a, b, words)
        tokens = [(m.start() + a, m.end() + a, m.group(0)) for m in _TOKEN.finditer(words)]
        if not tokens or any(t[2].lower() in _STOP for t in tokens):
            return None
        head = _head(tokens)
        if not head:
            return None
        last = head[-1][2].rstrip(".,")
        if any(_verb_like(t[2]) for t in tokens[:-1]):
            return None  # "arrested Smith"
        if _capitalised(last):
            found = self.name_at(head[-1][0], head[-1][1])
            if found is None:
                return None
            name, n0, n1 = found
            return _Phrase(a, b, name, person=person_like(name), name_start=n0, name_end=n1)
        voice = re.match(
            r"(?:an?|the)\s+(?:\w+\s+)?(?:statement|letter|post)\s+(?:from|by|on behalf of)\s+", words, re.I
        )
        if voice and voice.end() < len(words):  # "A statement from Mr Lee's family": the family
            return self.phrase(a + voice.end(), b)
        return self.description(a, b, tokens, last)

    def name_at(self, lo: int, hi: int) -> tuple[str, int, int] | None:
        """The article's name that ends with the word at ``[lo, hi)``, if it can speak, and
        where its words are written."""
        for n in self.names_in(max(0, lo - 80), hi + 2):
            if n.start <= lo < n.end + 1 or n.start < hi <= n.end + 1:
                name, where = clean(n.text), n.start
                break
        else:
            word = clean(self.text[lo:hi].rstrip(".,"))
            if not (word.isupper() and len(word) > 1 and word not in ("US", "UK", "EU", "UN")):
                return None
            name, where = word, lo  # "WALLACE", an acronym the name finder passed over
        words = _tidy(name.split())
        if ROLE.match(words[0]) and len(words) == 1:
            return None
        roles = [k for k, w in enumerate(words[:-1]) if ROLE.match(w) and k]
        if roles and len(words) - roles[-1] > 2:
            words = words[roles[-1] + 1 :]  # "Senate Majority Leader Mitch McConnell" -> "Mitch McConnell"
        name = " ".join(words)
        if name in self.places or self.full(name) in self.places or not speaker_like(name):
            return None
        if _CREDIT_BEFORE.search(self.text, max(0, lo - 20), lo):
            return None
        if self.text[hi : hi + 1] == "/" or self.text[max(0, lo - 1) : lo] in ("@", "/", "#"):
            return None  # "(Name Surname/PA)", "@handle", "#hashtag"
        start = self.text.find(name, where, hi + 2)
        start = start if start >= 0 else where
        return name, start, start + len(name)

    def description(self, a: int, b: int, tokens: list[tuple[int, int, str]], last: str) -> _Phrase | None:
        """A common-noun subject: "a police spokesman", "Mr Lee's family", "officials"."""
        first = tokens[0][2]
        if any(t[2] in _SENTENCE_OPENERS for t in tokens[1:]):
            return None  # "the run A statement from …": a full stop lost in a scraped page
        lead_ok = (
            first.lower() in _DETERMINERS
            or _capitalised(first)
            or first[0].isdigit()
            or (len(tokens) == 1 and _PLURAL_SPEAKERS.match(last) is not None)  # "officials said"
        )
        if not lead_ok or _adverb(last) or len(last) < 3 or len(tokens) > 12:
            return None
        if last.lower() in _VERB_FORMS or last.lower() in _DETERMINERS:
            return None
        for _, _, word in tokens[1:]:
            if word.lower() in _PREPOSITIONS:
                break
            if _verb_like(word) or _adverb(word):
                return None  # "Trump repeatedly demeaned women", "a complaint filed"
        return _Phrase(a, b, self.text[a:b])

    def subject_before(self, verb_start: int, floor: int) -> _Phrase | None:
        """The subject of the speech verb at ``verb_start``: the noun phrase right before it,
        past auxiliaries and adverbs ("has also said"), appositives and tags (", a Y,", ", 59,
        of Ashton, Md.,", ", R-Ky.,") or a relative "who", reaching back no further than
        ``floor``."""
        end = verb_start
        while True:
            m = re.search(r"([^\W\d_][\w'\u2019]*)\s+$", self.text[floor:end])
            if m is None or not (m.group(1).lower() in _SKIP_BEFORE_VERB or _adverb(m.group(1))):
                break
            if m.group(1)[:1].isupper():
                break  # "Lilly said": a name, not an adverb
            end = floor + m.start(1)
        before = self.text[floor:end].rstrip()
        relative = re.search(r",\s*who\b[^,.;:!?\"\u201c\u201d]{0,100}$", before)
        if relative:  # "X, who said" / "X, who lives near the stop told"
            before = before[: relative.start() + 1]
        if not before.endswith(","):
            return self.phrase_ending(floor + len(before), floor)
        # comma-separated segments right to left: skip appositives, the first other is the subject
        stop = max(before.rfind(c) + 1 for c in ';:!?"\u201c\u201d')  # "R." and "R-Ky." stay
        right = len(before) - 1
        for _ in range(5):
            comma = before.rfind(",", stop, right)
            segment = before[(comma + 1 if comma >= 0 else stop) : right]
            if comma < 0 or not _APPOSITIVE.match(segment):
                return self.phrase_ending(floor + right, floor + (comma + 1 if comma >= 0 else stop))
            right = comma
        return None

    def phrase_ending(self, end: int, floor: int) -> _Phrase | None:
        """The longest noun phrase that ends at ``end``: back to a clause boundary (a stop word,
        punctuation, a quotation mark) and no further than 12 words."""
        start = end
        for count, m in enumerate(reversed(list(_TOKEN.finditer(self.text, max(floor, end - 200), end)))):
            word = m.group(0)
            if word.lower() in _STOP or (len(word) == 1 and not word.isalnum()) or count >= 12:
                break
            start = m.start()
        previous = ""
        for m in _TOKEN.finditer(self.text, start, end):  # the longest phrase that reads as one
            best = self.phrase(m.start(), end)
            if best is not None:
                if previous.lower() in _OBJECT_BEFORE or _verb_like(previous):
                    return None  # "near the stop", "who arrested Smith": an object, not a subject
                return best
            previous = m.group(0)
        return None

    def phrase_after(self, start: int, limit: int) -> _Phrase | None:
        """The noun phrase right after a verb ("said Charlie King, a prominent Democrat"): up to
        the first comma, full stop or stop word."""
        end = start
        for m in _TOKEN.finditer(self.text, start, limit):
            word = m.group(0)
            if word.lower() in _STOP_AFTER_VERB or word in ",;:!?" or word in _MARKS:
                break
            if word == "." or (word.endswith(".") and not _capitalised(word) and len(word) > 4):
                end = m.end() - 1 if word != "." else end
                break
            end = m.end()
        for cut in range(end, start, -1):  # the longest prefix that is a phrase
            if cut == end or self.text[cut].isspace():
                phrase = self.phrase(start, cut)
                if phrase is not None:
                    return phrase
        return None

    # -- clauses -------------------------------------------------------------------------------

    def after(self, r: Region) -> Clause | None:
        """ "…," X said / "…," said X / "…" the letter reads, after the closing mark."""
        k = self.sentence_at(r.end)  # a quotation of several sentences ends in a later one
        s = self.sentences[k]
        p = self.paragraphs[r.paragraph]
        qe = r.end + 1
        stop = min(p.end, max(s.end, qe), qe + _AFTER_WINDOW)
        tail = self.text[qe:stop]
        lead = len(tail) - len(tail.lstrip(" ,.!?'\u2014\u2013-"))
        if re.match(r"as\s", tail[lead:]):
            lead += 3  # '"…," as a Homeland Security memo put it'
        if not tail[lead:].strip() and k + 1 < len(self.sentences):
            nxt = self.sentences[k + 1]  # '"… EXONERATION!" ¶ President Trump tweeted.'
            if nxt.paragraph == r.paragraph and not any(c in self.text[nxt.start : nxt.end] for c in _MARKS):
                return self.tag(nxt.start, min(nxt.end, nxt.start + _AFTER_WINDOW), short=True)
            return None
        return self.tag(qe + lead, stop)

    def tag(self, a: int, b: int, *, short: bool = False) -> Clause | None:
        """A speech tag starting at ``a``: "X said", "said X", "X, a Y, said", "he said"."""
        verbs = self.verbs(a, b)
        verb = verbs[0] if verbs else None
        if verb is None or any(c in self.text[a : verb.start()] for c in _MARKS):
            return None
        rest = self.text[verb.end() : b].strip(" .!?")
        if short and len(rest.split()) > 2 and not _TAG_REST.match(rest):
            return None  # "X said the plan was unfunded." is a sentence of its own, not a tag
        word = verb.group(0).lower()
        if word.startswith("according"):  # '"…" at a conference, according to X'
            return self.clause(verb.start(), verb.end(), self.phrase_after(verb.end(), b))
        if not self.text[a : verb.start()].strip():  # "said X"
            if word.split()[0] not in _INVERTIBLE and not re.match(_CYRILLIC_SPEECH, word):
                return None  # '"…," told the paper' names the listener, "answering questions" an object
            phrase = self.phrase_after(verb.end(), b)
            return self.clause(verb.start(), verb.end(), phrase)
        if _PASSIVE_BEFORE.search(self.text, max(a, verb.start() - 10), verb.start()) and not word.endswith(
            "ing"
        ):
            return None
        phrase = self.subject_before(verb.start(), a)
        if phrase is None:
            return None
        between = self.text[a : phrase.start]
        if between.strip() and not (
            re.fullmatch(r"[^.;:!?\"\u201c\u201d]*,\s*", between)
            and not any(w.lower() in _STOP for w in re.findall(r"[^\W\d_]+", between))
        ):
            return None  # something between the mark and the subject: another clause's verb
        return self.clause(a, verb.end(), phrase)

    def clause(self, start: int, end: int, phrase: _Phrase | None) -> Clause | None:
        if phrase is None:
            return None
        verb = self.text[max(start, end - 12) : end]
        if (
            phrase.pronoun is None
            and not phrase.person
            and not self.text[phrase.end : start].strip()  # the verb right after the phrase
            and re.search(r"(?:ed|written)$", verb)
            and re.match(r"\s+(?:to|by|on|in|at|as)\b", self.text[end : end + 4])
        ):
            return None  # "a statement posted to the page": a participle, not a speaker's verb
        speaker = phrase.speaker
        if speaker is not None and phrase.name_start >= 0:
            speaker = self.person(speaker, phrase.name_start)
        return Clause(
            min(start, phrase.start), max(end, phrase.end), phrase.start, phrase.end, phrase.pronoun,
            phrase.name_start, phrase.name_end, speaker, phrase.person,
        )  # fmt: skip

    def verbs(self, a: int, b: int) -> list[re.Match[str]]:
        """Speech verbs in ``text[a:b]`` used as verbs: not "Trump's tweet", "the following
        comment", "with chants of", "a controversial comment"."""
        out = []
        for v in SPEECH_RE.finditer(self.text, a, b):
            if _NOUN_BEFORE.search(self.text, max(0, v.start() - 12), v.start()):
                continue
            bare = v.group(0).lower()
            noun_like = bare in _LEMMA_SET or bare.rstrip("s") in _LEMMA_SET
            ends_tag = re.match(r"\s*[.,:;!?\"\u201c\u201d]", self.text[v.end() : v.end() + 3]) is not None
            if (
                noun_like
                and not ends_tag
                and _DETERMINER_NEAR.search(self.text, max(0, v.start() - 40), v.start())
            ):
                continue  # "a controversial comment", "the recent claims"; not "the letter reads."
            out.append(v)
        return out

    def before(self, r: Region) -> Clause | None:
        """X said: "…", X says the plan is "…", According to X, "…", …, saying "…"."""
        s = self.sentences[r.sentence]
        open_mark = r.start - 1
        floor = s.start
        for _, b in self.quote_spans:  # not before an earlier quotation of the same sentence
            if s.start <= b < open_mark:
                floor = b + 1
        for m in _RUN_ON.finditer(self.text, floor, open_mark):
            floor = m.end() - len(m.group(1))  # "… following the incident There was blood …"
        verbs = [
            v for v in self.verbs(floor, open_mark)
            if len(self.text[v.end() : open_mark].split()) <= _BEFORE_WORDS
            and not _NEW_CLAUSE.search(self.text, v.end(), open_mark)
        ]  # fmt: skip
        for verb in reversed(verbs):  # the nearest verb with a subject of its own
            clause = self.opening(verb, floor)
            if clause is not None:
                return clause
        for verb in reversed(verbs):  # "…, saying", "… and vowed", "X was heard … saying"
            if verb.group(0).endswith("ing") or re.search(
                r"(?:,|\band|\bbut)\s*$", self.text[floor : verb.start()]
            ):
                return self.clause(verb.start(), verb.end(), self.sentence_subject(s.start, verb.start()))
        return None

    def opening(self, verb: re.Match[str], floor: int) -> Clause | None:
        v0, v1 = verb.start(), verb.end()
        word = verb.group(0).lower()
        if word.startswith("according"):
            return self.clause(v0, v1, self.phrase_after(v1, v1 + 120))
        if _PASSIVE_BEFORE.search(self.text, max(floor, v0 - 10), v0) and not word.endswith("ing"):
            return None
        if re.search(r"[^\W\d_]\s+who\s+$", self.text[max(floor, v0 - 40) : v0]):
            return None  # "a young woman who suggested": a relative clause about someone else
        if word.endswith("ing") and re.search(r",\s*$", self.text[floor:v0]):
            return None  # "…, saying": the main clause's subject (see ``before``)
        return self.clause(v0, v1, self.subject_before(v0, floor))

    def sentence_subject(self, start: int, limit: int) -> _Phrase | None:
        """The sentence's own subject: its leading noun phrase (after an opening phrase that
        ends in a comma, "In an August speech, Trump …")."""
        m = re.match(r"\s*(?:(?:In|At|On|During|After|Before|Speaking|Asked|Earlier|Later)\b[^,]{0,80},\s*)?",
                     self.text[start:limit])  # fmt: skip
        a = start + (m.end() if m else 0)
        end = a
        for t in _TOKEN.finditer(self.text, a, limit):  # up to its first verb-like word
            word = t.group(0)
            low = word.lower()
            if low in _STOP or low in _SKIP_BEFORE_VERB or low in _VERB_FORMS or _adverb(word):
                break
            if not word[0].isalnum() or (word.islower() and word.endswith("ed")):
                break
            end = t.end()
        return self.phrase(a, end) if end > a else None

    def colon_intro(self, r: Region) -> Clause | None:
        """ "Caddell continued:" ending the paragraph before the one this quotation opens."""
        if r.paragraph == 0 or not self.paragraph_opens_with_mark(r):
            return None
        p = self.paragraphs[r.paragraph - 1]
        body = self.text[p.start : p.end].rstrip()
        if not body.endswith(":"):
            return None
        colon = p.start + len(body) - 1
        floor = self.sentences[self.sentence_at(colon)].start if self.sentences else p.start
        for verb in reversed(self.verbs(floor, colon)):
            clause = self.opening(verb, floor)
            if clause is not None:
                return clause
        made = re.compile(r"\b(?:made|issued|released|gave|offered|posted)\b")
        m = made.search(self.text, floor, colon)
        if m is None or not re.search(r"\b(?:statement|comments?|remarks)\b", self.text[m.end() : colon]):
            return None
        return self.opening(m, floor)

    def transcript(self, r: Region) -> Clause | None:
        """ "WALLACE: Let's start …": a transcript's speaker label opens the quotation."""
        p = self.paragraphs[r.paragraph]
        m = _TRANSCRIPT.match(self.text, p.start)  # the label opens the quotation's paragraph
        if m is None or r.start > m.end() + 2 or _NOT_LABELS.match(m.group(1).strip()):
            return None
        label = m.group(1).strip()
        return Clause(m.start(1), m.end(1) + 1, m.start(1), m.end(1), speaker=label)

    def tweet(self, r: Region) -> Clause | None:
        """'"…" pic.twitter.com/x -- Papi (@Kxngsosa) November 3, 2016': the embed's author."""
        m = _TWEET_AUTHOR.match(self.text, r.end + 1, r.end + 200)
        if m is None or _BYLINE.search(m.group("name")):
            return None
        author = m.group("name").rstrip()
        return Clause(
            m.start("name"), m.end(), m.start("name"), m.start("name") + len(author), speaker=author
        )

    # -- names and people ----------------------------------------------------------------------

    def person(self, name: str, start: int) -> str:
        """The full name of a mention at ``start``: a surname two people share goes to the one
        its title agrees with ("Mr Hale" -> John Hale beside Mary Hale), else it keeps the title."""
        name = clean(name)
        title = re.search(r"\b(Mr|Mrs|Ms|Miss)\.?\s+$", self.text[max(0, start - 6) : start])
        if title is None or len(name.split()) > 1 or name in self.canonical:
            return self.full(name)
        want = _TITLE_GENDER[title.group(1).lower()]
        fits = [
            f for f in self.full_names if f.split()[-1] == name and first_names.gender(f.split()[0]) == want
        ]
        return fits[0] if len(fits) == 1 else f"{title.group(1)} {name}"

    def full(self, name: str) -> str:
        """A one-word name as its one full form in the article ("Marchenko" -> "Maksym
        Marchenko"); left as written when two people share it."""
        name = clean(name)
        return self.canonical.get(name, name) if len(name.split()) == 1 else name

    def gender(self, name: str) -> str | None:
        """ "f" or "m", by the strongest evidence there is: a title in the name or before it
        in the article (Mrs, Ms, Miss, Lady / Mr, Sir), then the first-name lexicon, then the
        pronouns the article writes right after the name (the first "she"/"he"/"his"/"her" of
        its sentence with no other name between, two or more votes); None when unknown."""
        if name in self._genders:
            return self._genders[name]
        words = name.replace(".", "").split()
        found: str | None = None
        if words and words[0].lower() in _TITLE_GENDER:
            found = _TITLE_GENDER[words[0].lower()]
        elif words:
            last = re.escape(words[-1])
            titles = {
                _TITLE_GENDER[m.group(1).lower()]
                for m in re.finditer(rf"\b(Mrs|Ms|Miss|Mr|Sir|Lady|Dame|Lord)\.?\s+{last}\b", self.text)
            }
            if len(titles) == 1 and len(words) == 1:
                found = titles.pop()
            elif len(words) >= 2 and person_like(name) and not ROLE.match(words[0]):
                found = first_names.gender(words[0])
            elif len(words) == 1 and person_like(name) and words[0] not in self.surnames:
                found = first_names.gender(words[0])  # "Melania": a first name, nobody's surname
            if found is None and len(words) == 1 and not titles:  # "Trump": as "Donald Trump"
                fulls = {
                    first_names.gender(n.split()[0]) for n in self.full_names if n.split()[-1] == words[0]
                }
                found = fulls.pop() if len(fulls) == 1 else None
            if found is None and not titles:
                found = self.pronoun_votes(last)
        self._genders[name] = found
        return found

    def pronoun_votes(self, last: str) -> str | None:
        votes = {"f": 0, "m": 0}
        for m in re.finditer(rf"\b{last}\b", self.text):
            after = re.split(r"[.!?\"\u201c\u201d]", self.text[m.end() : m.end() + 120], maxsplit=1)[0]
            pronoun = _OWN_PRONOUN.search(after)
            if pronoun and not self.names_in(m.end() + 1, m.end() + pronoun.start()):
                votes["f" if pronoun.group(0).lower().startswith(("she", "her")) else "m"] += 1
        if max(votes.values()) < 2 or min(votes.values()) * 2 >= max(votes.values()):
            return None
        return "f" if votes["f"] > votes["m"] else "m"


class _Attributor:
    def __init__(self, reader: _Reader) -> None:
        self.r = reader

    def run(self, regions: Sequence[Region]) -> list[Attribution]:
        out: list[Attribution] = []
        spoken: list[tuple[Region, Attribution]] = []  # earlier quotations and who said them
        for region in regions:
            a = self.one(region, spoken)
            spoken.append((region, a))
            out.append(a)
        return out

    def one(self, q: Region, spoken: list[tuple[Region, Attribution]]) -> Attribution:
        reader = self.r
        after, before = reader.after(q), reader.before(q)
        if title_like(reader.text[q.start : q.end]) and after is None and before is None:
            return Attribution(None, "unnamed", None, None, (UNNAMED,))  # "Curse of the Billy Goat"
        clause = reader.transcript(q) or reader.tweet(q) or after
        if clause is not None and _REPORTS.search(reader.text[clause.subject_start : clause.subject_end]):
            clause = before or clause  # 'X said "…," the Associated Press reports': X
        clause = clause or before or reader.colon_intro(q)
        if clause is not None and clause.pronoun is None and clause.speaker:
            speaker = clause.speaker
            return Attribution(speaker, "clause", clause, clause.name_span, (speaker, UNNAMED))
        if clause is not None and clause.pronoun is not None:
            return self.pronoun(q, clause, spoken)
        carried = self.continued(q, spoken) or self.paragraph_speaker(q, spoken)
        if carried is not None:
            return carried
        subject = self.pronoun_subject(q)
        if clause is None and subject is not None:  # "He lists neighbors …, men "buried there""
            return self.pronoun(q, subject, spoken)
        return Attribution(None, "unnamed", clause, None, self.candidates(q))

    def pronoun_subject(self, q: Region) -> Clause | None:
        """The "he"/"she" that opens the quotation's sentence when no speech verb attributes it:
        the words are that person's, whoever the rules can find them to be."""
        s = self.r.sentences[self.r.sentence_at(q.start)]
        m = re.match(r"\s*(He|She)\b(?:\s+[a-z]+)?", self.r.text[s.start : q.start])
        if m is None:
            return None
        a, b = s.start + m.start(1), s.start + m.end(1)
        return Clause(a, s.start + m.end(), a, b, m.group(1).lower())  # "He lists"

    def continued(self, q: Region, spoken: list[tuple[Region, Attribution]]) -> Attribution | None:
        """No clause: the words go on from the quotation just before, in this paragraph or at
        the end of the previous one when this paragraph opens with a mark."""
        if not spoken:
            return None
        before, a = spoken[-1]
        same = before.paragraph == q.paragraph and q.start - before.end <= _CARRY_CHARS
        opens = self.r.paragraph_opens_with_mark(q)
        if not (same or (opens and before.paragraph == q.paragraph - 1)):
            return None
        if a.speaker is None:
            return None
        between = self.r.text[before.end + 1 : q.start - 1]
        if (
            not same
            and between.rstrip().endswith("?")
            and not self.r.text[before.end : before.end + 1].isspace()
        ):
            return None  # a question closes the paragraph before: the answer is someone else's
        gap = before.end + 1
        if a.clause is not None and before.end <= a.clause.start < q.start:
            # the earlier quotation's own "X said …" sentence is not someone else speaking
            gap = max(
                a.clause.end, min(self.r.sentences[self.r.sentence_at(a.clause.start)].end, q.start - 1)
            )
        if self.other_speaker(gap, q.start - 1):
            return None
        return Attribution(a.speaker, "continuation", a.clause, a.speaker_span, (a.speaker, UNNAMED))

    def paragraph_speaker(self, q: Region, spoken: list[tuple[Region, Attribution]]) -> Attribution | None:
        """ "…, Schiff said. "The other factor …"": a quotation that opens a sentence goes to
        the speaker of the sentence before it in its paragraph (two back at most) when that
        sentence reports speech with a named subject and holds no quotation of its own."""
        reader = self.r
        k = reader.sentence_at(q.start)
        if reader.text[reader.sentences[k].start : q.start - 1].strip():
            return None  # the quotation does not open its sentence
        for j in range(k - 1, max(-1, k - 3), -1):
            s = reader.sentences[j]
            if s.paragraph != q.paragraph or any(
                a <= s.start < b or s.start <= a < s.end for a, b in reader.quote_spans
            ):
                return None
            for verb in reversed(reader.verbs(s.start, s.end)):
                clause = reader.opening(verb, s.start)
                if clause is not None and clause.speaker:
                    speaker = clause.speaker
                    return Attribution(speaker, "continuation", clause, clause.name_span, (speaker, UNNAMED))
        return None

    def other_speaker(self, a: int, b: int) -> bool:
        """Whether someone is said to speak between two quotations ("Mark Davis said the plan
        was unfunded."): a speech verb with a subject of its own."""
        for verb in SPEECH_RE.finditer(self.r.text, a, b):
            floor = max(a, self.r.text.rfind(".", a, verb.start()) + 1)
            if self.r.subject_before(verb.start(), floor) is not None:
                return True
        return False

    def pronoun(self, q: Region, clause: Clause, spoken: list[tuple[Region, Attribution]]) -> Attribution:
        """ "he said": the nearest earlier speaker or sentence subject who agrees in gender."""
        want = _PRONOUNS.get(clause.pronoun or "")
        found = self.antecedent(q, clause, spoken, want) if want else None
        if found is None:  # the agreement rules looked at every candidate: nobody for the model
            return Attribution(None, "unnamed", clause, None, (UNNAMED,))
        name, span = found
        return Attribution(name, "pronoun", clause, span, (name, UNNAMED))

    def antecedent(
        self, q: Region, clause: Clause, spoken: list[tuple[Region, Attribution]], want: str
    ) -> tuple[str, tuple[int, int]] | None:
        """Sentence by sentence back from the clause (three at most, within the quotation's
        paragraph and the two before): who spoke there, then who opens a clause there (the
        subject, "Gaga's protest" included), then the other people, nearest first. A person
        whose gender is the pronoun's is taken; one of unknown gender only when they spoke or
        are the subject of the nearest sentence naming anybody; the other gender is passed over."""
        reader = self.r
        floor = reader.paragraphs[max(0, q.paragraph - 2)].start
        first = reader.sentence_at(clause.start)
        nearest = True
        for k in range(first, max(-1, first - 1 - _PRONOUN_REACH), -1):
            s = reader.sentences[k]
            if s.end <= floor:
                break
            people = self.people_in(s.start, min(s.end, clause.start), spoken)
            alone = sum(p[3] for p in people) == 1  # one person who spoke or is the subject
            same = k < first and _SAME_PRONOUN[want].match(reader.text, s.start) is not None
            for start, end, name, salient in people:
                if same and not salient:
                    continue  # "He said the missiles were fired from the Iskander system": he is still he
                if not salient and len(name.split()) < 2:
                    continue  # an object named by one word ("Iskander") is no antecedent
                gender = reader.gender(name)
                if gender == want or (gender is None and nearest and salient and alone):
                    return name, (start, end)
            if people:
                nearest = False
        return None

    def people_in(
        self, a: int, b: int, spoken: list[tuple[Region, Attribution]]
    ) -> list[tuple[int, int, str, bool]]:
        """Persons of sentence text ``text[a:b]`` in the order a pronoun looks for them, each
        once, as (start, end, full name, salient: spoke or opens a clause)."""
        reader = self.r
        spoke: list[tuple[int, int, str, bool]] = []
        for _, att in reversed(spoken):
            span = att.speaker_span
            if (
                att.speaker
                and span
                and a <= span[0] < b
                and att.method != "continuation"
                and person_like(att.speaker)
            ):
                spoke.append((span[0], span[1], att.speaker, True))
        for verb in reader.verbs(a, b):  # "… Assistant Chief Robert Merner said the incident …"
            clause = reader.opening(verb, a)
            if clause is not None and clause.person and clause.speaker:
                spoke.append((clause.name_start, clause.name_end, clause.speaker, True))
        subjects: list[tuple[int, int, str, bool]] = []
        others: list[tuple[int, int, str, bool]] = []
        for n in reader.names_in(a, b):
            name = clean(n.text)
            if name in reader.places or not person_like(name) or _REPORTS.search(name):
                continue
            if all(ROLE.match(w) for w in name.split()):
                continue  # "Chief Constable"
            if _MODIFIER.match(reader.text, n.end) and not reader.possessive(n):
                continue  # "Clinton communications director Jennifer Palmieri", "Seattle police"
            opens = reader.opens_clause(n, a)
            if reader.possessive(n) and not opens:
                continue  # "the Democrat candidate's rally": not who the sentence is about
            (subjects if opens else others).append((n.start, n.end, reader.person(name, n.start), opens))
        seen: set[str] = set()
        unique = []
        for item in spoke + subjects + others[::-1]:
            if item[2] not in seen:
                seen.add(item[2])
                unique.append(item)
        return unique

    def candidates(self, q: Region) -> tuple[str, ...]:
        """Names the model may choose for a quotation no clause attributes: speaker-like names
        of its paragraph and its neighbours, not places, platforms or papers, credits, links or
        handles, nor a name that only modifies a noun ("the Moscow army"); "unnamed" last."""
        reader = self.r
        pk = q.paragraph
        lo = reader.paragraphs[max(0, pk - 1)].start
        hi = reader.paragraphs[min(len(reader.paragraphs) - 1, pk + 1)].end
        out: list[str] = []
        for n in reader.names_in(lo, hi):
            if len(out) >= MAX_CANDIDATES - 1:
                break
            name = clean(n.text)
            if name in reader.places or not speaker_like(name) or ROLE.match(name) or _REPORTS.search(name):
                continue
            if (
                reader.text[max(0, n.start - 1) : n.start] in ("/", "@", "#")
                or reader.text[n.end : n.end + 1] == "/"
            ):
                continue  # "pic.twitter.com/X8ox2wMl8H", "(@Kxngsosa)", "(Name Surname/PA)"
            if _CREDIT_BEFORE.search(reader.text, max(0, n.start - 20), n.start):
                continue
            if _MODIFIER.match(reader.text, n.end) and not reader.possessive(n):
                continue  # "the Moscow army", "Seattle police"
            full = reader.full(name)
            if full in reader.places:
                continue  # "Sea" of "the Sea of Azov" standing for "Black Sea"
            if full not in out:
                out.append(full)
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
    """Who said each quotation region, in order, with the clause that says so."""
    reader = _Reader(
        text, paragraphs=paragraphs, sentences=sentences, names=names, places=places, quotes=regions
    )
    return _Attributor(reader).run(regions)
