"""Topics and event types: kept only when the words the record cites support them.

A small model lists three IPTC topics whatever the article ("religion" for a chocolate bar's new
shape, "conflict, war and peace" for a Grand Prix). Each IPTC top-level subject has cue words
here, matched against the words' lemmas (``meaning.lemma``: whole, or as a prefix for cues of
five letters or more, "investigat" of "investigators"); a topic stays when a cue is among the words of
the sentences the record cites (its events' sentences and the best support of its headline and
brief), and is rejected otherwise. An event's own category must be supported by its sentence's
paragraph; when it is not and another topic is, that topic replaces it (a note). An ACLED event
type stays only on a conflict, politics or crime event whose sentence has one of its cues.
"""

from __future__ import annotations

import simplemma

from summarizer.grounding.findings import Findings
from summarizer.meaning import lemmas
from summarizer.schema import Event, Topic

_CUES: dict[Topic, str] = {
    "arts, culture, entertainment and media": """art artist museum film movie music musician singer
        song album concert theatre theater actor actress celebrit festival book novel author
        television tv media newspaper magazine broadcast fashion gallery exhibit culture
        entertain pop rapper band perform comedian""",
    "crime, law and justice": """crime criminal police arrest charg court judge trial jail prison
        murder shooting shot gunman suspect investigat prosecut lawyer attorney law legal justice
        fbi theft robber fraud custody manslaughter convict guilty verdict illegal lawsuit sue
        detective offence offense""",
    "disaster, accident and emergency incident": """disaster accident crash collision derail
        overturn fire blaze flood earthquake quake explosion emergency rescue victim injur casualt
        dead killed died death ambulance paramedic hospital evacuat collapse wreck tragedy
        survivor trapped""",
    "economy, business and finance": """econom business company compan firm market price cost
        profit sale sell sold bank financ money dollar pound euro tax trade brand product consumer
        customer shop retail manufactur industr stock investor inflation donor fund budget""",
    "education": "school student teacher university college educat pupil campus exam",
    "environment": "environment climate pollut emission wildlife forest conservation carbon species",
    "health": """health hospital doctor patient disease virus medical medicine ill pneumonia
        treatment vaccine cancer nurse mental""",
    "human interest": """family mother father child boy girl wife husband son daughter survivor
        tears cry hero love birthday wedding pet dog friend fan""",
    "labour": "worker union strike employ job wage salary labour labor staff unemploy",
    "lifestyle and leisure": """holiday travel touris food restaurant recipe fashion hobby
        leisure fitness shopping chocolate diet lifestyle garden""",
    "politics": """politic election elect vote voter campaign president candidate government
        minister parliament congress senate democrat republican party policy
        diplomat embassy consulate protest mayor council brexit referendum nominee governor senator""",
    "religion": """religio church mosque temple god faith pope priest imam rabbi christian muslim
        jewish hindu buddhist prayer pray bishop worship""",
    "science and technology": """science scientist research technolog tech computer internet
        software app email server digital space robot data cyber phone online engineer""",
    "society": """society social community immigra refugee poverty housing discriminat racism
        gender equality welfare protest library neighbourhood neighborhood""",
    "sport": """sport game match team player coach league championship series race racing lap
        win won title season cup olympic football soccer baseball basketball tennis golf formula
        stadium fan score goal driver prix""",
    "conflict, war and peace": """war conflict military army troop soldier attack bomb missile
        terror taliban insurg rebel militant battle fight ceasefire peace weapon shell airstrike
        invasion nato defence defense""",
    "weather": """weather storm rain snow wind hurricane typhoon heatwave temperature forecast
        drought cyclone tornado""",
}
_EVENT_TYPE_CUES: dict[str, str] = {
    # ACLED battles: armed clashes, and territory won or lost
    "battles": "battle clash fight fighting offensive recapture retake regain capture seize overtake "
    "territory",
    "explosions/remote violence": "bomb explos missile shell airstrike strike drone blast rocket",
    "violence against civilians": "civilian kill massacre attack abduct",
    "protests": "protest demonstrat rally march",
    "riots": "riot clash loot",
    "strategic developments": "withdraw agreement ceasefire deploy capture seize",
}
MIN_ENGLISH = 0.6  # share of words simplemma knows as English
_TYPED: frozenset[str] = frozenset({"conflict, war and peace", "politics", "crime, law and justice"})


TOPIC_CUES: dict[Topic, tuple[str, ...]] = {t: tuple(c.split()) for t, c in _CUES.items()}
_TYPE_CUES: dict[str, tuple[str, ...]] = {t: tuple(c.split()) for t, c in _EVENT_TYPE_CUES.items()}


def supported(cues: tuple[str, ...], words: set[str]) -> bool:
    """A cue is one of the lemmas, or for five letters or more the start of one."""
    starts = _starts(words)
    return any(c in words or (len(c) >= 5 and c in starts) for c in cues)


def _starts(words: set[str]) -> set[str]:
    """Every start of five letters or more of the words: a long cue is one of them."""
    return {w[:k] for w in words for k in range(5, len(w) + 1)}


def best_topic(words: set[str]) -> Topic | None:
    """The topic with most cues among the words, if any has one."""
    starts = _starts(words)
    hits = {
        t: sum(c in words or (len(c) >= 5 and c in starts) for c in cues) for t, cues in TOPIC_CUES.items()
    }
    best = max(hits, key=lambda t: hits[t])
    return best if hits[best] else None


def english(text: str) -> bool:
    """Most of the text's words are English (``simplemma``'s dictionary): the cues can be read."""
    return float(simplemma.in_target_language(text, lang="en")) >= MIN_ENGLISH


class Topics(Findings):
    """Topics and event types."""

    def topics(self, topics: list[Topic], events: list[Event], cited: list[str]) -> list[Topic]:
        """The answer's topics that the cited text supports; the others are rejected. When none
        is supported, the topic with most cues in the cited text replaces them (a note); when the
        text has no cue at all, the model's first topic stays (nothing contradicts it). The cues
        are English words: text in another language is not checked."""
        text = " ".join([*cited, *(e.evidence for e in events)])
        if not english(text) or not topics:
            return topics
        words = lemmas(text)
        kept = [t for t in topics if supported(TOPIC_CUES[t], words)]
        if not kept:
            best = best_topic(words)
            if best is None:
                return topics[:1]
            self.notes.append(f"topics: none of the model's is about the cited sentences; {best!r}")
            kept = [best]
        for i, topic in enumerate(topics):
            if topic not in kept:
                self.reject(f"topics[{i}]", topic, "no word of the cited sentences is about it")
        return kept

    def labelled(self, events: list[Event]) -> list[Event]:
        """Each event with a category its sentence's paragraph supports, and an event type only
        where its sentence has a cue for it."""
        out = []
        for i, e in enumerate(events):
            s = self.u.sentence(e.sentence) if e.sentence else None
            context = self.text[slice(*self.around(s))] if s is not None else e.evidence
            if not english(context):
                out.append(e)
                continue
            words = lemmas(context)
            category = e.category
            best = None if supported(TOPIC_CUES[category], words) else best_topic(words)
            if best is not None:
                self.notes.append(
                    f"events[{i}].category {category!r}: nothing in its paragraph is about it; {best!r}"
                )
                category = best
            event_type = e.event_type
            if event_type is not None and not (
                category in _TYPED and supported(_TYPE_CUES[event_type], lemmas(e.evidence))
            ):
                self.reject(f"events[{i}].event_type", event_type, "its sentence names no such act")
                event_type = None
            out.append(e.model_copy(update={"category": category, "event_type": event_type}))
        return out
