#!/usr/bin/env python3
"""One pull page's visits query at small and large history, SQLite, on the real schema.

Usage: bench/pull_page.py DB_FILE VISITS   (DB_FILE freshly made by `fieldvisit migrate`)
Fills one grid of 2,000 households with VISITS visits (and a neighbouring grid with as many), then
times the query a pull page runs for a grid's volunteer: the old plan (area_path range, sorted by
seq) and the new one (one area's `(area_path, seq)` index), at the first page and mid-history.
"""
import random
import sqlite3
import sys
import time

db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
grid, other = "/c/t/g1/", "/c/t/g2/"
hh = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(2000)]
c.executemany(
    "INSERT INTO households (id, area_id, area_path, address, head_name, heating, tags, version, updated_at,"
    " received_at, created_by, seq) VALUES (?, 'g1', ?, 'addr', 'head', 'coal', '[]', 1, 0, 0, 'u', ?)",
    [(h, grid, i) for i, h in enumerate(hh)],
)
t0 = 1_700_000_000_000
rows = (
    (f"v{i:012d}", hh[random.randrange(2000)], "g", grid if i % 2 == 0 else other, t0 + i * 1000, t0 + i * 1000,
     t0 + i * 1000, 1, 16.5, '{"radiator_ok":false}', 1, "暖气片不热", "[]", "u", "d", "hash", 2000 + i)
    for i in range(2 * n)
)
c.executemany(
    "INSERT INTO visits (id, household_id, area_id, area_path, visited_at, device_visited_at, received_at,"
    " clock_verified, indoor_temp_c, checklist, service_card_given, notes, photos, user_id, device_id,"
    " content_hash, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    rows,
)
c.commit()
old = "SELECT * FROM visits WHERE seq > ? AND area_path >= ? AND area_path < ? ORDER BY seq LIMIT 1001"
new = "SELECT * FROM visits WHERE seq > ? AND area_path = ? ORDER BY seq LIMIT 1001"
for name, sql, args in [("old", old, (grid, "/c/t/g10")), ("new", new, (grid,))]:
    plan = " | ".join(r[3] for r in c.execute("EXPLAIN QUERY PLAN " + sql, (0, *args)))
    for where, after in [("first page", -1), ("mid-history", 2000 + n)]:
        best = min(
            (lambda s: (c.execute(sql, (after, *args)).fetchall(), time.perf_counter() - s)[1])(time.perf_counter())
            for _ in range(5)
        )
        print(f"{n} visits in the grid, {name} plan, {where}: {best * 1000:.1f} ms  [{plan}]")
