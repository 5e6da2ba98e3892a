"""Duplicate index of ingest: exact (SHA-256) and near (64-bit pHash within a Hamming distance), sub-quadratic,
kept between runs.

Near duplicates use multi-index hashing: the 64 bits are cut into m bands; two hashes within distance d
differ in some band by at most r = d // m bits (pigeonhole), so a query looks up, in each band, every
value within r bits of its own (1 + w + w(w-1)/2 ... values for a w-bit band) in a dict. With m = 3
bands of ~21 bits a bucket holds about N / 2^21 entries, so a query costs a few dozen lookups whatever
N is (the earlier 12-bit bands gave buckets of N / 4096: quadratic). The first copy in part order wins.

The index and its decisions are saved beside the parts (`dup_index.pkl`) with the parts they cover; a
rerun that only appended parts loads it and adds the new ones; a rerun that redid an old part rebuilds it
(an earlier copy may have changed, and "first wins" must hold over the whole listing). The decisions and
the covered parts are also written small (`dup_index.json`): a rerun whose parts are exactly those reads
only that, so a no-op rerun over millions of photos never loads the index itself.
"""

from __future__ import annotations

import itertools
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

INDEX_FILE = "dup_index.pkl"
SUMMARY_FILE = "dup_index.json"  # settings, covered parts and decisions only: a no-op rerun reads just this


def band_layout(max_distance: int) -> tuple[int, int]:
    """(bands, radius per band) for a distance: exact bands while d <= 2, then 3 bands searched within d // 3."""
    m = min(max_distance + 1, 3)
    return m, max_distance // m


def _band_slices(m: int) -> list[tuple[int, int]]:
    widths = [64 // m + (1 if i < 64 % m else 0) for i in range(m)]
    starts = list(itertools.accumulate([0] + widths[:-1]))
    return list(zip(starts, widths))


def _masks(width: int, radius: int) -> list[int]:
    """Every XOR mask of at most `radius` set bits within `width` bits (0 first)."""
    out = [0]
    for r in range(1, radius + 1):
        for bits in itertools.combinations(range(width), r):
            out.append(sum(1 << b for b in bits))
    return out


@dataclass
class DuplicateIndex:
    """Exact and near-duplicate lookup over the kept rows seen so far, in order."""

    max_distance: int
    near: bool = True
    exact: dict[str, list] = field(default_factory=dict)
    buckets: list[dict[int, list[tuple[int, list]]]] = field(default_factory=list)
    duplicates: list[list] = field(default_factory=list)
    covered: dict[int, str] = field(default_factory=dict)  # part index -> its fingerprint, for reuse next run

    def __post_init__(self) -> None:
        self.m, self.radius = band_layout(self.max_distance)
        self.slices = _band_slices(self.m)
        self._masks = [_masks(w, self.radius) for _s, w in self.slices]
        if not self.buckets:
            self.buckets = [{} for _ in range(self.m)]

    def add(self, here: list, content_hash: str, phash: str | None) -> list | None:
        """Register one kept row ([part, pos, uri]); returns the row it duplicates (and records it), else None."""
        first = self.exact.setdefault(content_hash, here)
        if first is not here:
            self.duplicates.append(here + [first])
            return first
        if not (self.near and phash):
            return None
        h = int(phash, 16)
        bands = [(h >> s) & ((1 << w) - 1) for s, w in self.slices]
        d = self.max_distance
        for masks, band, table in zip(self._masks, bands, self.buckets):
            get = table.get
            for mask in masks:
                mates = get(band ^ mask)
                if mates:
                    for other, ref in mates:
                        if (h ^ other).bit_count() <= d:
                            self.duplicates.append(here + [ref])
                            return ref
        for band, table in zip(bands, self.buckets):
            table.setdefault(band, []).append((h, here))
        return None

    def save(self, folder: str | Path) -> None:
        from shoemodel.store.atomic import atomic_path

        with atomic_path(Path(folder) / INDEX_FILE) as tmp:
            with open(tmp, "wb") as fh:
                pickle.dump({"max_distance": self.max_distance, "near": self.near, "exact": self.exact,
                             "buckets": self.buckets, "duplicates": self.duplicates, "covered": self.covered}, fh,
                            protocol=pickle.HIGHEST_PROTOCOL)

    def save_summary(self, folder: str | Path) -> None:
        """The decisions and covered parts alone (after `save`: a crash between the two leaves an older summary,
        which only matches parts it really covers)."""
        from shoemodel.store.atomic import atomic_write_text

        atomic_write_text(Path(folder) / SUMMARY_FILE, json.dumps(
            {"max_distance": self.max_distance, "near": self.near, "covered": {str(k): v for k, v in self.covered.items()},
             "duplicates": self.duplicates}))

    @staticmethod
    def saved_decisions(folder: str | Path, max_distance: int, near: bool, covered: dict[int, str | None]) -> list[list] | None:
        """The duplicates saved for exactly these parts and fingerprints under these settings, else None."""
        try:
            d = json.loads((Path(folder) / SUMMARY_FILE).read_text())
        except (OSError, ValueError):
            return None
        if d.get("max_distance") != max_distance or d.get("near") != near:
            return None
        if {int(k): v for k, v in d.get("covered", {}).items()} != covered or None in covered.values():
            return None
        return d["duplicates"]

    @classmethod
    def load(cls, folder: str | Path, max_distance: int, near: bool) -> DuplicateIndex | None:
        """The saved index if it was made with these settings (else None: rebuild)."""
        p = Path(folder) / INDEX_FILE
        try:
            with open(p, "rb") as fh:
                d = pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError):
            return None
        if d.get("max_distance") != max_distance or d.get("near") != near:
            return None
        return cls(max_distance, near, d["exact"], d["buckets"], d["duplicates"], d["covered"])
