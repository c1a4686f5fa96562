"""Words said and shown in a persona's videos, counted for "suggest types": what its transcripts say and what its
videos' text tracks read, stop words and numbers dropped. The model service ranks them against the persona."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Letters only (an apostrophe or hyphen inside a word keeps it whole): numbers never become terms.
WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
MIN_LENGTH = 3
MAX_TERMS = 40
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be because been before being below between
both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each even ever every
few for from further get gets got had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers
herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself just let's like made make
many may me might more most much must mustn't my myself near no nor not now of off often on once one only or other
ought our ours ourselves out over own really said same say says see seen shan't she she'd she'll she's should
shouldn't so some still such than that that's the their theirs them themselves then there there's these they they'd
they'll they're they've this those though through to today too under until up upon us very was wasn't way we we'd
we'll we're we've well were weren't what what's when when's where where's which while who who's whom why why's will
with won't would wouldn't yeah yes yet you you'd you'll you're you've your yours yourself yourselves
""".split())


@dataclass
class Term:
    """One word's evidence: times said, and the videos it was said or shown in. `forms`: how it was written on
    screen ("EXIT" stays upper case); speech has no case (the transcriber's sentence capitals are not the word's)."""

    said: int = 0
    said_videos: set[str] = field(default_factory=set)
    shown_videos: set[str] = field(default_factory=set)
    forms: dict[str, int] = field(default_factory=dict)


def words(text: str) -> list[str]:
    return [w for w in WORD.findall(text) if len(w) >= MIN_LENGTH and w.lower().replace("’", "'") not in STOP_WORDS]


def count_terms(said: Iterable[tuple[str, str]], shown: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """(video id, transcript text) and (video id, on-screen string) pairs -> the MAX_TERMS most frequent words as
    {form: {said, said_videos, shown_videos}}, the augment job's `terms` parameter."""
    terms: dict[str, Term] = {}
    for video, text in said:
        for word in words(text):
            term = terms.setdefault(word.lower(), Term())
            term.said += 1
            term.said_videos.add(video)
    for video, text in shown:
        for word in words(text):
            term = terms.setdefault(word.lower(), Term())
            term.shown_videos.add(video)
            term.forms[word] = term.forms.get(word, 0) + 1
    ranked = sorted(terms.items(), key=lambda kv: (-(kv[1].said + len(kv[1].shown_videos)), kv[0]))[:MAX_TERMS]
    return {max(t.forms, key=lambda f: (t.forms[f], f)) if t.forms else word: {"said": t.said, "said_videos": len(t.said_videos),
                                                          "shown_videos": len(t.shown_videos)} for word, t in ranked}
