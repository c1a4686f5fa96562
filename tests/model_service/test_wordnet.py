"""The WordNet reader (model_service.wordnet) on the image's own files (Debian's wordnet-base): the glosses and
hypernyms "suggest types" shows, and nothing for a word WordNet does not know."""

from __future__ import annotations

import json

READ = """
import json
from model_service.wordnet import wordnet
words = wordnet()
out = {}
for word in ("bus", "Buses", "bridge", "traffic light", "children", "emisiones"):
    gloss = words.gloss(word)
    out[word] = None if gloss is None else [gloss.word, gloss.definition, list(gloss.hypernyms)]
print(json.dumps(out))
"""


def test_the_image_reads_glosses_and_hypernyms_from_its_wordnet_files(run_in_image) -> None:  # type: ignore[no-untyped-def]
    done = run_in_image("python3", "-c", READ)
    assert done.returncode == 0, done.stderr
    glosses = json.loads(done.stdout.strip().splitlines()[-1])
    assert glosses["bus"] == ["bus", "a vehicle carrying many passengers; used for public transport",
                              ["public transport"]]
    assert glosses["Buses"] == glosses["bus"]  # a regular plural
    assert glosses["children"][0] == "child"  # an irregular one (noun.exc)
    assert glosses["bridge"][2] == ["structure"] and glosses["bridge"][1].startswith("a structure that allows")
    assert glosses["traffic light"][0] == "traffic light"  # a two-word lemma
    assert glosses["emisiones"] is None  # unknown: nothing invented
