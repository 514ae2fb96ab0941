"""People the article names: a mention's full name and a person's gender, by title, first
name or the pronouns the article ties to them."""

from __future__ import annotations

import re

from summarizer import first_names
from summarizer.speakers.lexicon import OWN_PRONOUN, ROLE, TITLE_GENDER
from summarizer.speakers.text import Text
from summarizer.speakers.words import clean, person_like


class People(Text):
    """Full names and genders of the article's people."""

    def person(self, name: str, start: int) -> str:
        """The full name of a mention at ``start``: a surname two people share goes to the one
        its title agrees with ("Mr Hale" -> John Hale beside Mary Hale), else it keeps the title."""
        name = clean(name)
        title = re.search(r"\b(Mr|Mrs|Ms|Miss)\.?\s+$", self.text[max(0, start - 6) : start])
        if title is None or len(name.split()) > 1 or name in self.canonical:
            return self.full(name)
        want = TITLE_GENDER[title.group(1).lower()]
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
        if words and words[0].lower() in TITLE_GENDER:
            found = TITLE_GENDER[words[0].lower()]
        elif words:
            last = re.escape(words[-1])
            titles = {
                TITLE_GENDER[m.group(1).lower()]
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
            pronoun = OWN_PRONOUN.search(after)
            if pronoun and not self.names_in(m.end() + 1, m.end() + pronoun.start()):
                votes["f" if pronoun.group(0).lower().startswith(("she", "her")) else "m"] += 1
        if max(votes.values()) < 2 or min(votes.values()) * 2 >= max(votes.values()):
            return None
        return "f" if votes["f"] > votes["m"] else "m"
