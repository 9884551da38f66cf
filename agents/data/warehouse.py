"""The demo warehouse: a seeded, deterministic shop + operations dataset in schema `warehouse`.

Sales (customers, products, orders, order_lines) and operations (services, deployments,
incidents, request_metrics by hour) for calendar year 2024, about 220k rows. The data has
structure worth asking about: growth, weekends and a holiday peak in orders; failed or
rolled-back deployments that open incidents; incidents that show up as error and latency
spikes in request_metrics. Every table and column carries a COMMENT because the
text-to-SQL model reads them.

Rows are generated in Python from `random.Random(seed)` (same rows on every Postgres
version) and streamed with COPY; foreign keys and indexes are added after the load.

    python -m agents.data.warehouse            # load into DATABASE_URL (no-op if loaded)
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

SCHEMA = "warehouse"
READER_ROLE = "agentdesk_reader"
WAREHOUSE_VERSION = 1  # bump when the schema or the generator changes: forces a reload
SEED = 20240101
_LOCK_KEY = 716254  # serving/schema.sql holds 716253

START = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 366  # 2024 is a leap year
HOURS = DAYS * 24


@dataclass(frozen=True)
class Table:
    name: str
    comment: str
    columns: tuple[tuple[str, str, str], ...]  # (name, type and constraints, comment)
    extra: tuple[str, ...] = ()  # table constraints


TABLES: tuple[Table, ...] = (
    Table("services", "Backend services of the shop; one row per deployable service.", (
        ("service", "text PRIMARY KEY", "Service name, e.g. checkout, payments, gateway."),
        ("team", "text NOT NULL", "Owning engineering team."),
        ("tier", "smallint NOT NULL CHECK (tier BETWEEN 1 AND 3)",
         "Criticality: 1 = customer-facing critical path, 3 = best effort."),
        ("language", "text NOT NULL", "Main implementation language."),
        ("description", "text NOT NULL", "What the service does."),
    )),
    Table("customers", "Shop customers (one row per account).", (
        ("customer_id", "integer PRIMARY KEY", "Customer identifier."),
        ("full_name", "text NOT NULL", "Customer's full name (synthetic)."),
        ("email", "text NOT NULL UNIQUE", "Login e-mail address (synthetic, @example.com)."),
        ("country", "char(2) NOT NULL", "ISO 3166-1 alpha-2 country code of the account."),
        ("segment", "text NOT NULL CHECK (segment IN ('consumer', 'smb', 'enterprise'))",
         "Customer segment: consumer, smb (small business) or enterprise."),
        ("signup_date", "date NOT NULL", "Day the account was created."),
    )),
    Table("products", "Product catalog.", (
        ("product_id", "integer PRIMARY KEY", "Product identifier."),
        ("sku", "text NOT NULL UNIQUE", "Stock keeping unit code, e.g. ELE-00042."),
        ("name", "text NOT NULL", "Product display name."),
        ("category", "text NOT NULL",
         "Category: Electronics, Home, Books, Clothing, Sports, Beauty, Toys or Grocery."),
        ("unit_price", "numeric(10,2) NOT NULL", "Current list price in USD."),
        ("unit_cost", "numeric(10,2) NOT NULL", "Purchase cost per unit in USD (for margin)."),
        ("launched_on", "date NOT NULL", "Day the product went on sale."),
        ("is_active", "boolean NOT NULL", "False when the product is discontinued."),
    )),
    Table("orders", "Customer orders in 2024 (one row per checkout); items are in order_lines.", (
        ("order_id", "integer PRIMARY KEY", "Order identifier."),
        ("customer_id", "integer NOT NULL", "Buyer; references customers.customer_id."),
        ("ordered_at", "timestamptz NOT NULL", "When the order was placed (UTC)."),
        ("status", "text NOT NULL CHECK (status IN "
                   "('pending', 'shipped', 'completed', 'cancelled', 'refunded'))",
         "Lifecycle state: pending, shipped, completed, cancelled or refunded. Revenue "
         "usually counts completed and shipped orders only."),
        ("channel", "text NOT NULL CHECK (channel IN ('web', 'mobile', 'partner'))",
         "Sales channel: web, mobile (app) or partner (marketplace)."),
        ("total_amount", "numeric(12,2) NOT NULL",
         "Order total in USD after discounts; equals the sum of order_lines.line_total."),
    )),
    Table("order_lines", "Items of each order (one row per product in an order).", (
        ("order_id", "integer NOT NULL", "References orders.order_id."),
        ("line_no", "smallint NOT NULL", "Position of the line within its order, from 1."),
        ("product_id", "integer NOT NULL", "References products.product_id."),
        ("quantity", "integer NOT NULL CHECK (quantity > 0)", "Units ordered."),
        ("unit_price", "numeric(10,2) NOT NULL", "Price per unit in USD at order time."),
        ("discount_pct", "smallint NOT NULL CHECK (discount_pct BETWEEN 0 AND 100)",
         "Discount in percent (0-100) applied to this line."),
        ("line_total", "numeric(12,2) GENERATED ALWAYS AS "
                       "(round(quantity * unit_price * (100 - discount_pct) / 100.0, 2)) STORED",
         "quantity * unit_price minus the discount, in USD (computed)."),
    ), ("PRIMARY KEY (order_id, line_no)",)),
    Table("deployments", "Releases of services to staging and production.", (
        ("deployment_id", "integer PRIMARY KEY", "Deployment identifier."),
        ("service", "text NOT NULL", "Deployed service; references services.service."),
        ("version", "text NOT NULL", "Released version (semver)."),
        ("environment", "text NOT NULL CHECK (environment IN ('staging', 'production'))",
         "Target environment: staging or production."),
        ("deployed_at", "timestamptz NOT NULL", "When the rollout started (UTC)."),
        ("deployed_by", "text NOT NULL", "Engineer who started the rollout."),
        ("status", "text NOT NULL CHECK (status IN ('succeeded', 'failed', 'rolled_back'))",
         "Outcome: succeeded, failed (never fully rolled out) or rolled_back (reverted)."),
        ("duration_s", "integer NOT NULL", "Rollout duration in seconds."),
        ("commit_sha", "text NOT NULL", "Abbreviated git commit of the release."),
    )),
    Table("incidents", "Production incidents, often caused by a bad deployment.", (
        ("incident_id", "integer PRIMARY KEY", "Incident identifier."),
        ("service", "text NOT NULL", "Affected service; references services.service."),
        ("deployment_id", "integer",
         "Deployment that caused it; references deployments.deployment_id; NULL if not "
         "caused by a deployment."),
        ("severity", "text NOT NULL CHECK (severity IN ('SEV1', 'SEV2', 'SEV3', 'SEV4'))",
         "SEV1 (outage) to SEV4 (minor)."),
        ("title", "text NOT NULL", "Short description."),
        ("root_cause", "text NOT NULL",
         "Cause category: deployment, dependency, capacity, config, network or unknown."),
        ("opened_at", "timestamptz NOT NULL", "When the incident was declared (UTC)."),
        ("resolved_at", "timestamptz", "When it was resolved (UTC); NULL while still open."),
    ), ("CHECK (resolved_at IS NULL OR resolved_at >= opened_at)",)),
    Table("request_metrics", "Hourly request metrics per service for 2024 (from the gateway).", (
        ("service", "text NOT NULL", "References services.service."),
        ("hour", "timestamptz NOT NULL", "Start of the hour (UTC)."),
        ("requests", "bigint NOT NULL", "Requests served in the hour."),
        ("errors", "bigint NOT NULL", "Requests that failed with a 5xx status."),
        ("p50_ms", "numeric(8,1) NOT NULL", "Median latency in milliseconds."),
        ("p95_ms", "numeric(8,1) NOT NULL", "95th percentile latency in milliseconds."),
        ("p99_ms", "numeric(8,1) NOT NULL", "99th percentile latency in milliseconds."),
    ), ("PRIMARY KEY (service, hour)",)),
    Table("load_info", "Marker of this demo dataset's load (one row; not business data).", (
        ("version", "integer PRIMARY KEY", "Generator version that produced the data."),
        ("seed", "bigint NOT NULL", "Random seed of the generator."),
        ("loaded_at", "timestamptz NOT NULL DEFAULT now()", "When the data was loaded."),
        ("row_counts", "jsonb NOT NULL", "Rows loaded per table."),
        ("load_seconds", "real NOT NULL", "How long the load took."),
    )),
)

FOREIGN_KEYS = (
    ("orders", "customer_id", "customers"),
    ("order_lines", "order_id", "orders"),
    ("order_lines", "product_id", "products"),
    ("deployments", "service", "services"),
    ("incidents", "service", "services"),
    ("incidents", "deployment_id", "deployments"),
    ("request_metrics", "service", "services"),
)
INDEXES = (
    ("orders", "customer_id"), ("orders", "ordered_at"), ("order_lines", "product_id"),
    ("deployments", "service, deployed_at"), ("incidents", "service, opened_at"),
    ("request_metrics", "hour"),
)

# ---------------------------------------------------------------- generator

_SERVICES = (  # name, team, tier, language, description, requests/s, p50 ms
    ("gateway", "platform", 1, "go", "Public API gateway; every request passes it.", 900, 12),
    ("auth", "identity", 1, "go", "Login, sessions and tokens.", 300, 18),
    ("catalog", "commerce", 2, "java", "Product catalog reads.", 400, 25),
    ("search", "discovery", 2, "python", "Product search and autocomplete.", 350, 60),
    ("checkout", "commerce", 1, "java", "Cart and checkout flow.", 80, 120),
    ("payments", "payments", 1, "java", "Card and wallet payments through PSPs.", 40, 250),
    ("notifications", "growth", 3, "python", "E-mail and push notifications.", 60, 40),
    ("recommendations", "discovery", 3, "python", "Personalised recommendations.", 200, 90),
)
_FIRST = ("Ada Alan Amara Ben Carla Chen Dana Diego Elena Emil Fatima Felix Grace Hana Ivan "
          "Jonas Julia Kai Lara Leo Maya Mateo Nadia Noah Olga Omar Priya Quinn Rosa Sam "
          "Sofia Tariq Uma Victor Wen Yara Yusuf Zoe").split()
_LAST = ("Adams Bauer Costa Dubois Eriksen Fischer Garcia Haddad Ito Jensen Kim Kowalski "
         "Larsen Meyer Nakamura Novak Okafor Patel Rossi Santos Schmidt Silva Tanaka Nguyen "
         "Walker Weber Yilmaz Zhang Moreau Brown").split()
_COUNTRIES = (("US", 35), ("GB", 10), ("DE", 10), ("FR", 8), ("CA", 7), ("IN", 8), ("BR", 6),
              ("JP", 6), ("NL", 5), ("AU", 5))
_CATEGORIES = {  # category: (min price, max price, nouns)
    "Electronics": (25, 1500, "Headphones Monitor Keyboard Speaker Camera Tablet Charger Router"),
    "Home": (8, 300, "Lamp Kettle Blanket Vase Pan Chair Shelf Rug"),
    "Books": (5, 60, "Cookbook Novel Atlas Guide Anthology Journal Handbook Biography"),
    "Clothing": (10, 220, "Jacket Sneakers Scarf Hoodie Jeans Shirt Boots Cap"),
    "Sports": (12, 500, "Bike Helmet Racket Yoga-Mat Dumbbell Tent Backpack Bottle"),
    "Beauty": (4, 120, "Serum Shampoo Perfume Lotion Brush Balm Cleanser Mask"),
    "Toys": (6, 150, "Puzzle Robot Blocks Doll Kite Drone Boardgame Plush"),
    "Grocery": (2, 40, "Coffee Tea Olive-Oil Chocolate Honey Pasta Granola Spices"),
}
_ADJECTIVES = "Classic Smart Eco Pro Compact Deluxe Urban Essential Ultra Vintage".split()
_ENGINEERS = "alice bob chandra dmitri erin farah gus hiro ines jamal kira luis".split()
_WEEKEND_LIFT = {5: 1.15, 6: 1.2}  # Saturday, Sunday lift in shop traffic


def _day_factor(day: int) -> float:
    """Shop demand on day `day` of 2024: growth, weekends, the holiday season, Black Friday."""
    d = START + timedelta(days=day)
    f = (1 + 0.5 * day / DAYS) * _WEEKEND_LIFT.get(d.weekday(), 1.0)
    if (d.month, d.day) >= (11, 24) and (d.month, d.day) <= (12, 20):
        f *= 1.8
    if (d.month, d.day) == (11, 29):
        f *= 1.7
    return f


def _hour_factor(hour_of_day: int) -> float:
    """Diurnal curve peaking in the (UTC) afternoon/evening."""
    return 0.3 + 0.7 * (0.5 - 0.5 * math.cos(2 * math.pi * (hour_of_day - 4) / 24))


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S+00")


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def generate(seed: int = SEED) -> dict[str, list[tuple]]:
    """All rows, per table in load order. Pure and deterministic for a given seed."""
    rng = random.Random(seed)
    out: dict[str, list[tuple]] = {}
    out["services"] = [s[:5] for s in _SERVICES]

    # Customers: most signed up before 2024; sorted by signup so orders can pick only
    # customers that already existed.
    countries, cweights = zip(*_COUNTRIES)
    signup_start, signup_span = date(2021, 1, 1), (date(2024, 12, 15) - date(2021, 1, 1)).days
    signups = sorted(signup_start + timedelta(days=int(signup_span * rng.random() ** 0.7))
                     for _ in range(5000))
    customers = []
    for cid, signed in enumerate(signups, start=1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        segment = rng.choices(("consumer", "smb", "enterprise"), (80, 15, 5))[0]
        customers.append((cid, f"{first} {last}", f"{first}.{last}.{cid}@example.com".lower(),
                          rng.choices(countries, cweights)[0], segment, signed.isoformat()))
    out["customers"] = customers
    # Heavy-tailed ordering propensity; enterprise accounts order more.
    propensity = [rng.paretovariate(1.6) * (3 if c[4] == "enterprise" else 1) for c in customers]
    cum_prop = list(_accumulate(propensity))
    signup_days = [(s - START.date()).days for s in signups]

    products, prices, launch_days = [], [], []
    for pid in range(1, 401):
        category = rng.choice(list(_CATEGORIES))
        low, high, nouns = _CATEGORIES[category]
        cents = int(100 * math.exp(rng.uniform(math.log(low), math.log(high)))) // 100 * 100 + 99
        launched = (date(2024, 1, 1) + timedelta(days=rng.randrange(330)) if rng.random() < 0.08
                    else date(2019, 1, 1) + timedelta(days=rng.randrange(1826)))
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(nouns.split()).replace('-', ' ')}"
        products.append((pid, f"{category[:3].upper()}-{pid:05d}", name, category,
                         _money(cents), _money(int(cents * rng.uniform(0.35, 0.75))),
                         launched.isoformat(), rng.random() > 0.08))
        prices.append(cents)
        launch_days.append((launched - START.date()).days)
    out["products"] = products
    popularity = [1 / (rank ** 0.8) for rank in rng.sample(range(1, 401), 400)]
    cum_pop = list(_accumulate(popularity))

    cum_day = list(_accumulate(_day_factor(d) for d in range(DAYS)))
    cum_hour = list(_accumulate(_hour_factor(h) for h in range(24)))
    times = sorted(
        (bisect.bisect(cum_day, rng.random() * cum_day[-1]),
         bisect.bisect(cum_hour, rng.random() * cum_hour[-1]), rng.randrange(3600))
        for _ in range(40_000))
    orders, lines = [], []
    for oid, (day, hour, sec) in enumerate(times, start=1):
        at = START + timedelta(days=day, hours=hour, seconds=sec)
        eligible = bisect.bisect(signup_days, day) or 1
        cust = bisect.bisect(cum_prop, rng.random() * cum_prop[eligible - 1]) + 1
        holiday = _day_factor(day) > 2
        total = 0
        for line_no in range(1, min(10, 1 + int(rng.expovariate(0.5))) + 1):
            for _ in range(4):  # re-pick products not yet launched on that day
                pidx = bisect.bisect(cum_pop, rng.random() * cum_pop[-1])
                if launch_days[pidx] <= day:
                    break
            qty = rng.choices((1, 2, 3, 4, 5), (70, 18, 7, 3, 2))[0]
            disc = rng.choices((0, 5, 10, 15, 20, 30), (55, 10, 15, 10, 8, 2) if holiday
                               else (80, 8, 7, 3, 2, 0))[0]
            total += (qty * prices[pidx] * (100 - disc) + 50) // 100  # = round(..., 2) in SQL
            lines.append((oid, line_no, pidx + 1, qty, _money(prices[pidx]), disc))
        age = DAYS - day
        status = (rng.choice(("pending", "shipped")) if age <= 2 else
                  rng.choices(("shipped", "completed"), (60, 40))[0] if age <= 9 else
                  rng.choices(("completed", "cancelled", "refunded"), (90, 5, 5))[0])
        channel = rng.choices(("web", "mobile", "partner"), (55, 38, 7))[0]
        orders.append((oid, cust, _ts(at), status, channel, _money(total)))
    out["orders"], out["order_lines"] = orders, lines

    out["deployments"], out["incidents"], impact = _ops(rng)
    out["request_metrics"] = _metrics(rng, impact)
    return out


def _ops(rng: random.Random) -> tuple[list[tuple], list[tuple], dict[tuple[int, int], float]]:
    """Deployments, incidents, and the (service, hour) -> error multiplier they cause."""
    deploys: list[tuple] = []
    incidents: list[tuple] = []
    impact: dict[tuple[int, int], float] = {}
    sev_factor = {"SEV1": 40.0, "SEV2": 15.0, "SEV3": 5.0, "SEV4": 2.0}

    def add_incident(si: int, dep: int | None, sev: str, title: str, cause: str,
                     opened: datetime, minutes: float) -> None:
        resolved = opened + timedelta(minutes=minutes)
        end = START + timedelta(days=DAYS)
        incidents.append((len(incidents) + 1, _SERVICES[si][0], dep, sev, title, cause,
                          _ts(opened), None if resolved > end else _ts(resolved)))
        h0 = int((opened - START).total_seconds() // 3600)
        h1 = int((min(resolved, end) - START).total_seconds() // 3600)
        for h in range(h0, min(h1, HOURS - 1) + 1):
            impact[(si, h)] = max(impact.get((si, h), 1.0), sev_factor[sev])

    events = []  # (time, service index, env, version)
    for si in range(len(_SERVICES)):
        major, minor, patch = 1 + rng.randrange(4), rng.randrange(20), 0
        for day in range(DAYS):
            d = START + timedelta(days=day)
            if d.weekday() >= 5 or rng.random() > 0.58:  # ~150 production releases per service
                continue
            if rng.random() < 0.25:
                minor, patch = minor + 1, 0
            else:
                patch += 1
            at = d + timedelta(hours=rng.uniform(8, 17))
            version = f"{major}.{minor}.{patch}"
            events.append((at - timedelta(hours=rng.uniform(1, 30)), si, "staging", version))
            events.append((at, si, "production", version))
    events.sort()
    for did, (at, si, env, version) in enumerate(events, start=1):
        status = rng.choices(("succeeded", "failed", "rolled_back"),
                             (90, 4, 6) if env == "production" else (92, 8, 0))[0]
        deploys.append((did, _SERVICES[si][0], version, env, _ts(at), rng.choice(_ENGINEERS),
                        status, rng.randint(60, 900), f"{rng.getrandbits(48):012x}"))
        if env == "production" and status != "succeeded" and rng.random() < 0.65:
            sev = rng.choices(("SEV1", "SEV2", "SEV3"), (10, 45, 45))[0]
            add_incident(si, did, sev, f"{_SERVICES[si][0]}: elevated 5xx after {version}",
                         "deployment", at + timedelta(minutes=rng.uniform(5, 60)),
                         rng.uniform(20, 360))

    templates = {"dependency": "{s}: upstream dependency timeouts",
                 "capacity": "{s}: saturation under load", "config": "{s}: bad config push",
                 "network": "{s}: packet loss between zones", "unknown": "{s}: latency spike"}
    for _ in range(120):
        si = rng.randrange(len(_SERVICES))
        cause = rng.choice(list(templates))
        sev = rng.choices(("SEV1", "SEV2", "SEV3", "SEV4"), (3, 17, 45, 35))[0]
        add_incident(si, None, sev, templates[cause].format(s=_SERVICES[si][0]), cause,
                     START + timedelta(minutes=rng.uniform(0, DAYS * 1440)),
                     rng.uniform(15, 2880))
    incidents.sort(key=lambda r: r[6])  # number incidents in time order
    incidents = [(i, *r[1:]) for i, r in enumerate(incidents, start=1)]
    return deploys, incidents, impact


def _metrics(rng: random.Random, impact: dict[tuple[int, int], float]) -> list[tuple]:
    rows = []
    day_f = [_day_factor(d) ** 0.5 for d in range(DAYS)]  # API traffic follows orders, damped
    hour_f = [_hour_factor(h) for h in range(24)]
    for si, (name, *_, rps, p50) in enumerate(_SERVICES):
        base_err = rng.uniform(0.0005, 0.003)
        for h in range(HOURS):
            load = day_f[h // 24] * hour_f[h % 24]
            requests = int(rps * 3600 * load * rng.uniform(0.9, 1.1))
            factor = impact.get((si, h), 1.0)
            errors = int(requests * min(0.9, base_err * factor * rng.uniform(0.7, 1.3)))
            slow = 1 + (factor - 1) / 10
            lat50 = p50 * (0.8 + 0.3 * load) * slow * rng.uniform(0.95, 1.05)
            lat95 = lat50 * rng.uniform(2.2, 3.0)
            lat99 = lat95 * rng.uniform(1.5, 2.2)
            rows.append((name, _ts(START + timedelta(hours=h)), requests, errors,
                         f"{lat50:.1f}", f"{lat95:.1f}", f"{lat99:.1f}"))
    return rows


def _accumulate(values):
    total = 0.0
    for v in values:
        total += v
        yield total


# ---------------------------------------------------------------- loader


def _loaded_version(conn: psycopg.Connection, schema: str) -> int | None:
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS e",
                          (f"{schema}.load_info",)).fetchone()
    if not _first(exists):
        return None
    row = conn.execute(sql.SQL("SELECT max(version) AS v FROM {}.load_info")
                       .format(sql.Identifier(schema))).fetchone()
    return _first(row)


def _first(row) -> object:
    if row is None:
        return None
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def ensure_warehouse(conn: psycopg.Connection, *, schema: str = SCHEMA, seed: int = SEED,
                     force: bool = False) -> bool:
    """Load the warehouse once. Returns True if it loaded, False if it was already there.

    Safe to call from many processes at once: an advisory lock serialises loaders and the
    version row in `load_info` makes later calls no-ops. Also (re)grants the read-only
    role, which is cheap and repairs a role created after the data.
    """
    ident = sql.Identifier(schema)
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        loaded = False
        if force or _loaded_version(conn, schema) != WAREHOUSE_VERSION:
            t0 = time.perf_counter()
            with conn.transaction():
                # Fast-path settings for a bulk load in this transaction only.
                conn.execute("SET LOCAL synchronous_commit = off")
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident))
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
                conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(ident, sql.Literal(
                    "Demo data warehouse: 2024 shop sales and service operations.")))
                counts = _load_tables(conn, schema, generate(seed))
                conn.execute(sql.SQL(
                    "INSERT INTO {}.load_info (version, seed, row_counts, load_seconds) "
                    "VALUES (%s, %s, %s, %s)").format(ident),
                    (WAREHOUSE_VERSION, seed, json.dumps(counts), time.perf_counter() - t0))
            for t in TABLES:  # planner stats and pg_class.reltuples for list_tables
                conn.execute(sql.SQL("ANALYZE {}.{}").format(ident, sql.Identifier(t.name)))
            log.info("warehouse %s loaded: %s rows in %.1f s", schema, sum(counts.values()),
                     time.perf_counter() - t0)
            loaded = True
        ensure_reader_role(conn, schema)
        return loaded
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def _load_tables(conn: psycopg.Connection, schema: str, data: dict[str, list[tuple]]
                 ) -> dict[str, int]:
    ident = sql.Identifier(schema)
    counts: dict[str, int] = {}
    for t in TABLES:
        body = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(ty)) for c, ty, _ in t.columns]
        body += [sql.SQL(x) for x in t.extra]
        conn.execute(sql.SQL("CREATE TABLE {}.{} ({})").format(
            ident, sql.Identifier(t.name), sql.SQL(", ").join(body)))
        conn.execute(sql.SQL("COMMENT ON TABLE {}.{} IS {}").format(
            ident, sql.Identifier(t.name), sql.Literal(t.comment)))
        for col, _, comment in t.columns:
            conn.execute(sql.SQL("COMMENT ON COLUMN {}.{}.{} IS {}").format(
                ident, sql.Identifier(t.name), sql.Identifier(col), sql.Literal(comment)))
        rows = data.get(t.name)
        if rows is None:
            continue
        width = len(rows[0])  # generated columns come last and are not copied
        cols = sql.SQL(", ").join(sql.Identifier(c) for c, _, _ in t.columns[:width])
        with conn.cursor().copy(sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
                ident, sql.Identifier(t.name), cols)) as copy:
            for row in rows:
                copy.write_row(row)
        counts[t.name] = len(rows)
    for table, column, ref in FOREIGN_KEYS:
        conn.execute(sql.SQL("ALTER TABLE {}.{} ADD FOREIGN KEY ({}) REFERENCES {}.{}").format(
            ident, sql.Identifier(table), sql.Identifier(column), ident, sql.Identifier(ref)))
    for table, columns in INDEXES:
        conn.execute(sql.SQL("CREATE INDEX ON {}.{} ({})").format(
            ident, sql.Identifier(table), sql.SQL(columns)))
    return counts


def ensure_reader_role(conn: psycopg.Connection, schema: str = SCHEMA) -> bool:
    """Create `agentdesk_reader` (NOLOGIN, SELECT on the warehouse only) if we may.

    Reads switch to it with SET LOCAL ROLE, so even a statement that slips past the SQL
    policy runs without write or DDL rights. Without CREATEROLE we log and carry on:
    reads still run in READ ONLY transactions.
    """
    ident, role = sql.Identifier(schema), sql.Identifier(READER_ROLE)
    for attempt in range(2):  # a loader on another database may create the role meanwhile
        try:
            with conn.transaction():
                if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                    (READER_ROLE,)).fetchone():
                    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(role))
                    conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(role, sql.Literal(
                        "agentdesk data agent: read-only access to the warehouse schema")))
                conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident, role))
                conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}")
                             .format(ident, role))
                conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON "
                                     "TABLES TO {}").format(ident, role))
                superuser = _first(conn.execute(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone())
                if not superuser:  # membership is what lets the app SET ROLE to it
                    conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(role))
            return True
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            if attempt:
                raise
        except psycopg.Error as exc:
            log.warning("cannot set up read-only role %s (%s); reads fall back to READ ONLY "
                        "transactions as the connecting user", READER_ROLE,
                        str(exc).strip().splitlines()[0])
            return False
    return False


def load(url: str | None = None, *, force: bool = False) -> bool:
    """CLI entry: load the warehouse into `url` (default: the app's database)."""
    from serving.db import connect

    with connect(url) as conn:
        return ensure_warehouse(conn, force=force)


async def ensure_warehouse_async(url: str | None = None) -> bool:
    """For async callers: the load is CPU-bound Python plus COPY, so run it in a thread."""
    return await asyncio.to_thread(load, url)


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO)
    t = time.perf_counter()
    did = load(force="--force" in sys.argv)
    print(f"{'loaded' if did else 'already loaded'} in {time.perf_counter() - t:.1f} s")
