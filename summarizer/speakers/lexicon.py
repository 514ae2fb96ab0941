"""The words reporting clauses are read with: speech verbs and their forms, the words of a
noun phrase, roles, organisations, credits and the reach of each rule."""

from __future__ import annotations

import re

UNNAMED = "unnamed"
MAX_CANDIDATES = 6

OPENING_MARKS = '\u201c\u201e\u00ab"\u2018'  # a quotation opens with one of these
MARKS = '"\u201c\u201d\u201e\u00ab\u00bb'

# -- the speech verbs: lemmas and their forms ----------------------------------------------------

LEMMAS = """
    say tell add continue explain state declare insist note write warn ask reply respond recall
    argue claim admit acknowledge tweet post announce describe call chant shout yell scream cry
    whisper joke quip boast complain concede conclude suggest predict promise vow pledge urge demand
    assert contend maintain observe remark comment read testify confirm deny blast slam accuse mock
    criticize criticise praise compare characterize characterise tout agree stress emphasize
    emphasise sing mention report answer wonder lament repeat reiterate proclaim exclaim muse plead
    beg caution advise recount charge allege counter fume thunder retort sneer scoff gush rave lash
    talk speak think believe know hope feel fear rate exhort liken
""".split()  # noqa: SIM905
IRREGULAR = {
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


def verb_forms(lemma: str) -> list[str]:
    if lemma in IRREGULAR:
        return IRREGULAR[lemma].split()
    if lemma.endswith("ee"):
        return [lemma, lemma + "s", lemma + "d", lemma + "ing"]
    if lemma.endswith("e"):
        return [lemma, lemma + "s", lemma + "d", lemma[:-1] + "ing"]
    if lemma.endswith("y") and lemma[-2] not in "aeiou":
        return [lemma, lemma[:-1] + "ies", lemma[:-1] + "ied", lemma + "ing"]
    plural = lemma + ("es" if lemma.endswith(("s", "sh", "ch", "x")) else "s")
    return [lemma, plural, lemma + "ed", lemma + "ing"]


LEMMA_SET = frozenset(LEMMAS)
DETERMINER_NEAR = re.compile(
    r"(?:\b(?:a|an|the|his|her|their|its|this|that|these|those)(?:\s+[a-z][\w-]*){1,2}"
    r"|\b(?:of|with|for|by)(?:\s+[\w-]+){1,2})\s+$"
)
VERB_FORMS = frozenset(f for lemma in LEMMAS for f in verb_forms(lemma))
SPEECH = "|".join(sorted(VERB_FORMS, key=len, reverse=True))
CYRILLIC_SPEECH = (
    r"заявил\w*|сказал\w*|добавил\w*|отметил\w*|сообщил\w*|подчеркнул\w*|пояснил\w*|рассказал\w*|"
    r"заявив|сказав|зазначив\w*|додав\w*|повідомив\w*|наголосив\w*"
)
SPEECH_RE = re.compile(rf"\b({SPEECH}|{CYRILLIC_SPEECH}|according\s+to|put\s+it)\b", re.IGNORECASE)
# Verbs that come before their subject after a quotation ('"…," said Caddell'); "told the
# paper" and "answering questions" name a listener or an object, never who speaks.
INVERTIBLE = frozenset(
    """said says asked added continued wrote explained recalled insisted noted replied declared
    remarked observed warned argued countered quipped conceded stated concluded responded
    according""".split()  # noqa: SIM905
)
# Subjects that are a bare plural noun: "officials said", "analysts say".
PLURAL_SPEAKERS = re.compile(
    r"^(?:officials|analysts|critics|experts|residents|witnesses|police|authorities|investigators|"
    r"prosecutors|lawyers|attorneys|sources|aides|advisers|advisors|organizers|organisers|"
    r"researchers|scientists|doctors|economists|protesters|supporters|opponents|democrats|republicans|"
    r"voters|parents|students|teachers|officers|leaders|observers|participants|respondents|americans)$",
    re.IGNORECASE,
)
# An appositive or tag between a subject and its verb: ", a business executive,", ", 59,",
# ", of Ashton,", ", Md.,", ", R-Ky.,", ", who leads the opposition,".
APPOSITIVE = re.compile(
    r"^\s*(?:[a-z\d(]|(?:[Tt]he|An?|Of|From|Who)\b|[RDI]-[A-Z]|[A-Z][a-z]{1,4}\.$|Jr\.?$|Sr\.?$)"
)
NOUN_BEFORE = re.compile(
    r"(?:\b(?:a|an|the|his|her|their|its|our|my|your|this|that|following|whose|every|no|of|with|by|for|from|about)\s+|['\u2019]s\s+|\bso-)$",
    re.IGNORECASE,
)
PASSIVE_BEFORE = re.compile(r"\b(?:was|were|been|being|is|are|be)\s+$", re.IGNORECASE)

# -- words of a noun phrase ----------------------------------------------------------------------

PRONOUNS = {"he": "m", "she": "f", "they": None, "it": None, "we": None, "i": None, "who": None,
             "он": "m", "она": "f", "він": "m", "вона": "f"}  # fmt: skip
SKIP_BEFORE_VERB = frozenset(
    """has have had was were is are will would also later then again once just even still never
    not did does do could can might may should must previously recently repeatedly reportedly
    further simply initially subsequently first finally""".split()  # noqa: SIM905
)
STOP = frozenset(
    """and or but while as when where whereas because if though although that which whom whose
    than so then after before since until unless in on to by into onto over under about against
    during through between without within upon via per like not no nor yes this these those there
    here what how why said says told was were is are be been being has have had do does did will
    would can could should may might must also than amid despite near outside inside across behind
    beside along around toward towards beyond among who whom which""".split()  # noqa: SIM905
)
DETERMINERS = frozenset(
    """
    a an the one another some his her their its our my your this that
    """.split()  # noqa: SIM905
)
STOP_AFTER_VERB = STOP - DETERMINERS  # "said the president": a determiner starts the subject
PREPOSITIONS = frozenset(
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
ORGANISATION = re.compile(
    r"\b(?:Police|Department|Ministry|Times|News|Post|Press|Party|Committee|Council|Agency|Service|"
    r"Branch|Bureau|Association|Union|International|Inc|Ltd|Corp|Company|Group|University|Office|"
    r"Court|Army|Force|Forces|Government|Series|League|Tower|House|Congress|Senate|Foundation|"
    r"Institute|Commission|Network|Club|Federation|Organisation|Organization|Authority|"
    r"Administration|Campaign|Cubs|Indians)\b"
)
REPORTS = re.compile(
    r"^(?:Facebook|Twitter|Instagram|YouTube|TikTok|Snapchat|WhatsApp|Reddit|LinkedIn)$|"
    r"\b(?:Times|Post|News|Advertiser|Herald|Telegraph|Guardian|Journal|Gazette|Tribune|Express|Mail|"
    r"Standard|Mirror|Independent|Observer|Chronicle|Reuters|AP|AFP|BBC|CNN|MSNBC|Sky|Press)$"
)
CREDIT_BEFORE = re.compile(r"(?:photo|picture|image|credit|caption|video|getty|pictured)\W*$", re.IGNORECASE)
TRANSCRIPT = re.compile(r"[\"\u201c]?\s*([A-Z][A-Z.'\u2019 -]{1,40}[A-Z.]):\s")
NOT_LABELS = re.compile(r"^(?:UPDATE|EDITOR'?S NOTE|WATCH|READ MORE|PHOTOS?|VIDEO|RELATED|NOTE|Q|A)$")
# An embedded tweet as scraped pages keep it: the text, perhaps its picture link, then
# "-- Name (@handle) November 3, 2016". The name is the author.
TWEET_AUTHOR = re.compile(
    r"[\"\u201d.,!?]*[^\S\n]*(?:(?:pic\.twitter\.com|https?://)\S+[^\S\n]+){0,3}(?:--|\u2014|\u2013)[^\S\n]*"
    r"(?P<name>[^\W\d_][^\n\"\u201c\u201d():;@]{0,58}?)[^\S\n]*\(@\w{1,30}\)[^\S\n]+"
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
    r"[^\S\n]+\d{1,2},[^\S\n]+\d{4}"  # the embed's own date: a byline "(@jsmith)" has none
)
# A quotation signed on its own line, as pull quotes, epigraphs and vox pops are: '"…" ― Ana
# Ruiz', '"…"— Ana Ruiz, a teacher.' The dash follows the closing mark and the name ends the line.
SIGNATURE = re.compile(
    r"[.,!?]*[^\S\n]*(?:--|\u2015|\u2014|\u2013)[^\S\n]*"
    r"(?P<name>[^\W\d_][^\n\"\u201c\u201d():;@,]{0,58})[^\S\n]*(?:[.,][^\n\"\u201c\u201d]{0,80})?[^\S\n]*$",
    re.MULTILINE,
)
BYLINE = re.compile(r"\b(?:by|photo|reporting|editing|staff|writer|contributed)\b", re.IGNORECASE)
TITLE_GENDER = {
    "mr": "m",
    "mrs": "f",
    "ms": "f",
    "miss": "f",
    "sir": "m",
    "lady": "f",
    "dame": "f",
    "lord": "m",
}
OWN_PRONOUN = re.compile(
    r"\b(?:she|he|his|her(?!\s+(?:in|on|at|to|and|or|but|for|with|by|from|as|that|if)\b)(?=\s+[^\W\d_]))\b",
    re.IGNORECASE,
)
# A sentence start that lost its full stop in a scraped page: a lowercase word, then a capitalised
# word that starts sentences.
RUN_ON = re.compile(r"[a-z,]\s+((?:The|There|It|He|She|They|We|This|That|But|And|In|On|When)\s)")
# A sentence whose subject labels what it quotes, with no speech verb: "X has gone after Y as a
# "…"", "X is rolling out a new message: "…"".
AS_LABEL = re.compile(r"(?<!such)(?<!well)(?<!much)(?<!same)(?<!soon)\s+as\s+(?:an?\s+|the\s+)?$")
LABEL_NOUN = re.compile(
    r"\b(?:message|statement|words|slogan|warning|plea|question|answer|response|reply|advice|promise|"
    r"pledge|vow|argument|pitch|verdict|retort|refrain|mantra|motto|catchphrase)\s*:\s*$",
    re.IGNORECASE,
)
# ... or names the words it uses: "X has used the phrase "…"".
TERM_NOUN = re.compile(
    r"\b(?:the|a|his|her|their|its)\s+(?:phrase|term|expression|slogan|nickname|catchphrase|words?)\s*,?\s*$",
    re.IGNORECASE,
)
PASSIVE_LABEL = re.compile(
    r"\b(?:is|was|were|are|been|being|be)\s+(?:[a-z]+ly\s+)?(?:[a-z]+ed|known|seen|cast)\b"
)
HONORIFIC = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+$")  # before a surname
# A name that only modifies what follows it: lowercase words, then a role word or another name.
ROLE_HEADS = r"spokes(?:man|woman|person)|director|manager|chairman|secretary|adviser|aide|chief"
MODIFIER = re.compile(
    rf"(?:['\u2019]s)?(?:\s+[a-z][\w-]*){{0,2}}\s+(?:{ROLE_HEADS}|officials?|officers?|police|campaign|"
    r"army|troops|forces|government|administration|team|staff|supporters|fans|voters)\b"
)
# Before these a noun phrase is an object: "the driver told him near the stop", "sent to Trump".
OBJECT_BEFORE = frozenset(
    """in on to by into onto over under about against during through between without within upon
    via per like amid despite near outside inside across behind beside along around toward towards
    beyond among""".split()  # noqa: SIM905
)
TAG_REST = re.compile(r"(?:on|in|at|during|after|late|early|last|this|from|via|to)\b[^,;]*$", re.IGNORECASE)
# A new clause between a speech verb and a quotation: the quotation is not that verb's.
NEW_CLAUSE = re.compile(
    r"[,;]\s*(?:but|and|while|as|although|though|yet|when|whereas)\s+(?:as\s+)?"
    r"(?:[A-Z][a-z]|(?:he|she|they|it|there|i|we|the|a|an)\b)|;"
)
# "Clinton communications director Jen Parkes": the name after the role words is the head.
MODIFIED_HEAD = re.compile(
    r"(?:^|[,;:]\s*|\b(?:and|but)\s+)(?:[A-Z][\w.'\u2019-]*\s+)+(?:[a-z][\w-]*\s+){0,3}"
    rf"(?:{ROLE_HEADS}|official)\s+$"
)
SENTENCE_OPENERS = frozenset("A An The This That It He She They There We".split())  # noqa: SIM905
TOKEN = re.compile(r"\([^()\n]{0,40}\)|[^\W\d_][\w.'\u2019-]*|\d[\w.,%-]*|\S")
SAME_PRONOUN = {"m": re.compile(r"\s*(?:He|he)\b"), "f": re.compile(r"\s*(?:She|she)\b")}
PRONOUN_REACH = 3  # sentences back for "he said"
CARRY_CHARS = 300  # a later quotation of a paragraph continues the speaker only this close
AFTER_WINDOW = 160  # characters after a closing mark searched for its tag
BEFORE_WORDS = 30  # at most this many words between a speech verb and the quotation it opens
