"""Values addressed by index in one object: an offsets table, then the pickled values, back to back.

Why: a foreach of 10,000 items runs 10,000 tasks, and each must read only its own item. Pickling the
list once (as the foreach artifact is) would make every child load all 10,000; one object per item would
make the foreach task write 10,000. Here the foreach task writes once and child `i` makes two ranged
reads: 16 bytes of offsets, then its value.

    offsets: (n + 1) little-endian uint64, absolute; value i is bytes [offsets[i], offsets[i + 1])
    values:  pickle of value 0, pickle of value 1, ...
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Sequence
from typing import IO, Any

OFFSET = struct.Struct("<Q")
PAIR = struct.Struct("<QQ")


def write_indexed(values: Sequence[Any], handle: IO[bytes]) -> int:
    """Write `values` to a seekable binary `handle` opened at position 0; returns the bytes written."""
    table = OFFSET.size * (len(values) + 1)
    handle.write(b"\0" * table)
    offsets = [table]
    for value in values:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        offsets.append(handle.tell())
    handle.seek(0)
    handle.write(b"".join(OFFSET.pack(o) for o in offsets))
    handle.seek(0, 2)
    return offsets[-1]


def offsets_range(index: int) -> tuple[int, int]:
    """The byte range [start, end) of value `index`'s two offsets."""
    start = OFFSET.size * index
    return start, start + PAIR.size


def value_range(offsets: bytes) -> tuple[int, int]:
    """The byte range [start, end) of a value, from the 16 bytes `offsets_range` read."""
    start, end = PAIR.unpack(offsets)
    return start, end


def load_value(data: bytes) -> Any:
    return pickle.loads(data)
