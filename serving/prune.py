"""`agentdesk prune --older-than DAYS`: delete the checkpoints of threads idle for DAYS.

The stock Postgres saver never deletes anything. A thread is idle when its newest checkpoint
is older than the cut-off; all its rows (checkpoints, blobs, writes) go together, so no
thread is left half-pruned.
"""

from __future__ import annotations

import argparse
import json

from serving.db import connect

_IDLE = """
SELECT thread_id FROM checkpoints
GROUP BY thread_id
HAVING max((checkpoint->>'ts')::timestamptz) < now() - make_interval(secs => %s)
"""


def prune(conn, older_than_days: float, *, dry_run: bool = False) -> dict[str, int]:
    seconds = older_than_days * 86400
    with conn.transaction():
        threads = [r["thread_id"] for r in conn.execute(_IDLE, (seconds,)).fetchall()]
        counts = {"threads": len(threads)}
        for table in ("checkpoint_writes", "checkpoint_blobs", "checkpoints"):
            sql = f"{'SELECT count(*) AS n FROM' if dry_run else 'DELETE FROM'} {table} WHERE thread_id = ANY(%s)"
            cur = conn.execute(sql, (threads,))
            counts[table] = cur.fetchone()["n"] if dry_run else cur.rowcount
    return counts


def main(args: argparse.Namespace) -> int:
    with connect() as conn:
        counts = prune(conn, args.older_than, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    rows = sum(v for k, v in counts.items() if k != "threads")
    print(f"{verb} {rows} rows from {counts['threads']} thread(s) idle for more than {args.older_than:g} days")
    print(json.dumps(counts))
    return 0
