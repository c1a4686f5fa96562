"""A word's gloss and hypernyms from WordNet 3.0's noun files (Debian's `wordnet-base`, installed in the image), read
with the standard library: offline, and nothing is made up for a word WordNet does not know.

The files (wndb(5WN)): `index.noun` has one line per lemma, `lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt
tagsense_cnt synset_offset...`, the synsets most frequent sense first; the licence header's lines start with spaces.
`data.noun` holds each synset at its byte offset: `offset lex_filenum ss_type w_cnt(hex) word lex_id ... p_cnt(3
digits) [symbol offset pos source/target]... | gloss`, where the gloss is the definition, then `; "examples"`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

WORDNET_DIR = Path(os.environ.get("MODEL_WORDNET_DIR", "/usr/share/wordnet"))
HYPERNYM = {"@", "@i"}  # a kind of (@), an instance of (@i)
# Regular noun plurals, as WordNet's morphy detaches them (irregular ones are in noun.exc).
DETACH = (("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y"),
          ("s", ""))


@dataclass(frozen=True)
class Gloss:
    word: str
    definition: str
    hypernyms: tuple[str, ...]


class WordNet:
    def __init__(self, root: Path = WORDNET_DIR) -> None:
        self.root = root
        self._index: dict[str, int] | None = None
        self._exceptions: dict[str, str] = {}

    @property
    def available(self) -> bool:
        return (self.root / "index.noun").is_file() and (self.root / "data.noun").is_file()

    def _load(self) -> dict[str, int]:
        if self._index is None:
            index: dict[str, int] = {}
            with open(self.root / "index.noun", encoding="utf-8") as lines:
                for line in lines:
                    if line.startswith(" "):
                        continue  # the licence header
                    fields = line.split()
                    index[fields[0]] = int(fields[-int(fields[2])])  # the first (most frequent) sense
            exc = self.root / "noun.exc"
            if exc.is_file():
                self._exceptions = {f[0]: f[1] for f in (line.split() for line in exc.open(encoding="utf-8"))
                                    if len(f) >= 2}
            self._index = index
        return self._index

    def _synset(self, offset: int) -> tuple[list[str], list[int], str]:
        """The synset's words, its hypernyms' offsets and its gloss."""
        with open(self.root / "data.noun", "rb") as data:
            data.seek(offset)
            line = data.readline().decode("utf-8")
        head, _, gloss = line.partition(" | ")
        fields = head.split()
        words_count = int(fields[3], 16)
        words = [fields[4 + 2 * i].replace("_", " ") for i in range(words_count)]
        at = 4 + 2 * words_count
        pointers = [fields[at + 1 + 4 * i: at + 5 + 4 * i] for i in range(int(fields[at]))]
        hypernyms = [int(p[1]) for p in pointers if p[0] in HYPERNYM and p[2] == "n"]
        return words, hypernyms, gloss.strip()

    def lemma(self, word: str) -> str | None:
        """The WordNet noun lemma for a word or phrase ("Buses" -> "bus", "traffic light" -> "traffic_light")."""
        if not self.available:
            return None
        index = self._load()
        key = re.sub(r"[\s-]+", "_", word.strip().lower())
        if key in index:
            return key
        if key in self._exceptions and self._exceptions[key] in index:
            return self._exceptions[key]
        for suffix, replacement in DETACH:
            if key.endswith(suffix) and key[: -len(suffix)] + replacement in index:
                return key[: -len(suffix)] + replacement
        return None

    def gloss(self, word: str) -> Gloss | None:
        lemma = self.lemma(word)
        if lemma is None:
            return None
        _, hypernyms, gloss = self._synset(self._load()[lemma])
        # The definition is the gloss up to its first quoted example.
        definition = re.split(r';\s*"', gloss, maxsplit=1)[0].strip().rstrip(";").strip()
        return Gloss(word=lemma.replace("_", " "), definition=definition,
                     hypernyms=tuple(self._synset(h)[0][0] for h in hypernyms))


@cache
def wordnet() -> WordNet:
    """One reader per process: the index (~120k lemmas) is read on the first look-up."""
    return WordNet()
