"""`agentdesk prune --older-than DAYS`: delete the checkpoints of threads idle for DAYS.

The stock Postgres saver never deletes anything. A thread is idle when its newest checkpoint
is older than the cut-off; all its rows (checkpoints, blobs, writes) go together, so no
thread is left half-pruned. A thread that waits for an approval decision is kept unless
`--include-pending` says otherwise: a running server still shows its approval card, and
approving a pruned one failed with a TypeError.
"""

from __future__ import annotations

import argparse
import json
import sys

from serving.db import connect
from serving.pending import PENDING_THREADS

# now() - interval overflows Postgres timestamps a few thousand years back; nothing in a
# checkpoint table is older than a century, so a larger cut-off is a typo, not a request.
MAX_DAYS = 36500

_TABLES = ("checkpoint_writes", "checkpoint_blobs", "checkpoints")

_IDLE = """
SELECT thread_id FROM checkpoints
GROUP BY thread_id
HAVING max((checkpoint->>'ts')::timestamptz) < now() - make_interval(secs => %s)
"""
_IDLE_NOT_PENDING = f"SELECT thread_id FROM ({_IDLE}) AS idle WHERE thread_id NOT IN (SELECT thread_id FROM ({PENDING_THREADS}) AS p)"


def has_checkpoints(conn) -> bool:
    """Whether the saver's tables exist (they do once a server has run against this database)."""
    found = ", ".join(f"to_regclass('{t}') AS {t}" for t in _TABLES)
    row = conn.execute(f"SELECT {found}").fetchone()
    return all(row.values())


def prune(conn, older_than_days: float, *, dry_run: bool = False, include_pending: bool = False) -> dict[str, int]:
    seconds = older_than_days * 86400
    with conn.transaction():
        idle = [r["thread_id"] for r in conn.execute(_IDLE, (seconds,)).fetchall()]
        threads = idle if include_pending else [
            r["thread_id"] for r in conn.execute(_IDLE_NOT_PENDING, (seconds,)).fetchall()]
        counts = {"threads": len(threads), "kept_pending": len(idle) - len(threads)}
        for table in _TABLES:
            sql = f"{'SELECT count(*) AS n FROM' if dry_run else 'DELETE FROM'} {table} WHERE thread_id = ANY(%s)"
            cur = conn.execute(sql, (threads,))
            counts[table] = cur.fetchone()["n"] if dry_run else cur.rowcount
    return counts


def main(args: argparse.Namespace) -> int:
    if args.older_than > MAX_DAYS:
        print(f"error: --older-than: at most {MAX_DAYS} days (100 years), got {args.older_than:.10g}",
              file=sys.stderr)
        return 2
    with connect() as conn:
        if not has_checkpoints(conn):
            # A fresh database, or DATABASE_URL pointing somewhere else: say which one, so the
            # second case is visible, but a scheduled prune on a new install is not a failure.
            where = f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
            print(f"no checkpoints in {where}: nothing to prune")
            print(json.dumps({"threads": 0, "kept_pending": 0, **dict.fromkeys(_TABLES, 0)}))
            return 0
        counts = prune(conn, args.older_than, dry_run=args.dry_run, include_pending=args.include_pending)
    verb = "would delete" if args.dry_run else "deleted"
    rows = sum(counts[t] for t in _TABLES)
    print(f"{verb} {rows} rows from {counts['threads']} thread(s) idle for more than {args.older_than:g} days")
    if counts["kept_pending"]:
        print(f"kept {counts['kept_pending']} idle thread(s) that wait for an approval decision "
              "(--include-pending prunes them too; restart the server afterwards so it forgets them)")
    print(json.dumps(counts))
    return 0
