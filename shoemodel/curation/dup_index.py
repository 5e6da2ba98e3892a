"""Duplicate index of ingest: exact (SHA-256) and near (64-bit pHash within a Hamming distance), sub-quadratic,
on disk and kept between runs.

Near duplicates use multi-index hashing: the 64 bits are cut into m bands; two hashes within distance d
differ in some band by at most r = d // m bits (pigeonhole), so a query looks up, in each band, every
value within r bits of its own (1 + w + w(w-1)/2 ... values for a w-bit band). With m = 3 bands of ~21 bits
a bucket holds about N / 2^21 entries, so a query costs a few dozen lookups whatever N is (the earlier 12-bit
bands gave buckets of N / 4096: quadratic). The first copy in part order wins.

The tables live in SQLite beside the parts (`dup_index.sqlite`: exact hashes, band values, the decisions and
the parts covered, with their fingerprints), so the driver's memory does not grow with the number of photos.
A rerun that only appended parts opens it and adds the new ones; a rerun that redid an old part rebuilds it
(an earlier copy may have changed, and "first wins" must hold over the whole listing). The decisions and the
covered parts are also written small (`dup_index.json`): a rerun whose parts are exactly those reads only that.
A part's rows go in one transaction with its `covered` entry, so a crash leaves whole parts only.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

INDEX_FILE = "dup_index.sqlite"
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


def _signed(h: int) -> int:
    """A 64-bit unsigned value (a hash, or a whole-hash band when d = 0) as SQLite's signed INTEGER."""
    return h - (1 << 64) if h >= 1 << 63 else h


class DuplicateIndex:
    """Exact and near-duplicate lookup over the kept rows seen so far, in order, in SQLite (`path`, or memory)."""

    def __init__(self, max_distance: int, near: bool = True, path: str | Path | None = None):
        self.max_distance, self.near = int(max_distance), bool(near)
        self.m, self.radius = band_layout(self.max_distance)
        self.slices = _band_slices(self.m)
        self._masks = [_masks(w, self.radius) for _s, w in self.slices]
        self.path = None if path is None else Path(path)
        self.db = sqlite3.connect(":memory:" if path is None else str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL" if path is not None else "PRAGMA journal_mode=MEMORY")
        self.db.execute("PRAGMA synchronous=OFF")  # a cache of the parts: rebuilt whenever it does not match them
        self.db.execute("PRAGMA cache_size=-65536")  # 64 MB of pages: the band index's hot levels stay in memory
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
            "CREATE TABLE IF NOT EXISTS exact (sha TEXT PRIMARY KEY, ref TEXT);"
            "CREATE TABLE IF NOT EXISTS near (band INTEGER, value INTEGER, hash INTEGER, first INTEGER);"
            "CREATE INDEX IF NOT EXISTS near_lookup ON near (band, value);"
            "CREATE TABLE IF NOT EXISTS decisions (n INTEGER PRIMARY KEY, row TEXT);"
            "CREATE TABLE IF NOT EXISTS covered (part INTEGER PRIMARY KEY, fingerprint TEXT);")
        self.duplicates: list[list] = [json.loads(r) for (r,) in self.db.execute("SELECT row FROM decisions ORDER BY n")]
        self.covered: dict[int, str] = dict(self.db.execute("SELECT part, fingerprint FROM covered"))
        self._queries = [self._near_query(len(m)) for m in self._masks]

    def _near_query(self, n_values: int) -> str:
        marks = ",".join("?" * n_values)
        return f"SELECT hash, first FROM near WHERE band = ? AND value IN ({marks}) ORDER BY rowid"

    def _settings(self) -> dict[str, str]:
        return {"max_distance": str(self.max_distance), "near": str(int(self.near))}

    def settings_match(self) -> bool:
        """True when the stored index was made with these settings."""
        return dict(self.db.execute("SELECT key, value FROM meta")) == self._settings()

    def add(self, here: list, content_hash: str, phash: str | None) -> list | None:
        """Register one kept row ([part, pos, uri]); returns the row it duplicates (and records it), else None."""
        cur = self.db.execute("INSERT OR IGNORE INTO exact (sha, ref) VALUES (?, ?)", (content_hash, json.dumps(here)))
        if cur.rowcount == 0:
            (first,), = self.db.execute("SELECT ref FROM exact WHERE sha = ?", (content_hash,))
            return self._record(here, json.loads(first))
        row_id = cur.lastrowid  # the near table points at it: each row's reference is stored once
        if not (self.near and phash):
            return None
        h = int(phash, 16)
        bands = [(h >> s) & ((1 << w) - 1) for s, w in self.slices]
        d = self.max_distance
        for b, (masks, band, query) in enumerate(zip(self._masks, bands, self._queries)):
            for other, first_id in self.db.execute(query, (b, *[_signed(band ^ mask) for mask in masks])):
                if (h ^ (other & ((1 << 64) - 1))).bit_count() <= d:
                    (first,), = self.db.execute("SELECT ref FROM exact WHERE rowid = ?", (first_id,))
                    return self._record(here, json.loads(first))
        self.db.executemany("INSERT INTO near VALUES (?, ?, ?, ?)", [(b, _signed(band), _signed(h), row_id) for b, band in enumerate(bands)])
        return None

    def _record(self, here: list, first: list) -> list:
        row = here + [first]
        self.db.execute("INSERT INTO decisions (row) VALUES (?)", (json.dumps(row),))
        self.duplicates.append(row)
        return first

    def add_part(self, index: int, fingerprint: str, rows: list[tuple[int, str, str, str | None]]) -> None:
        """Every kept row (pos, uri, content hash, phash) of one part and its `covered` entry, in one transaction."""
        self.db.execute("BEGIN")
        try:
            for pos, uri, content_hash, phash in rows:
                self.add([index, pos, uri], content_hash, phash)
            self.db.execute("INSERT OR REPLACE INTO covered VALUES (?, ?)", (index, fingerprint))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.covered[index] = fingerprint

    def close(self) -> None:
        self.db.close()

    def save(self, folder: str | Path) -> None:
        """Settle the on-disk tables (the WAL folded in) and write the small summary."""
        if self.path is not None:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.save_summary(folder)

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
    def open(cls, folder: str | Path, max_distance: int, near: bool) -> DuplicateIndex | None:
        """The saved index of `folder` if it was made with these settings and reads back (else None: rebuild)."""
        p = Path(folder) / INDEX_FILE
        if not p.exists():
            return None
        try:
            index = cls(max_distance, near, p)
            if index.settings_match():
                return index
            index.close()
        except sqlite3.DatabaseError:
            pass
        return None

    @classmethod
    def create(cls, folder: str | Path, max_distance: int, near: bool) -> DuplicateIndex:
        """A new, empty index file in `folder` (any older one removed)."""
        remove(folder)
        index = cls(max_distance, near, Path(folder) / INDEX_FILE)
        index.db.executemany("INSERT INTO meta VALUES (?, ?)", list(index._settings().items()))
        return index


def remove(folder: str | Path) -> None:
    """Delete the index file of `folder` and SQLite's side files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        (Path(folder) / (INDEX_FILE + suffix)).unlink(missing_ok=True)
