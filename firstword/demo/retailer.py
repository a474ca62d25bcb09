"""A synthetic but realistic retailer: stores in the UK, Germany and the US, their customers,
and ~90 days of orders by channel. Deterministic from a seed; vectorised with numpy (Faker only
builds small per-locale pools of names, which are then sampled).

Every person, address, e-mail and telephone number is fictional: e-mail domains are reserved
for documentation (example.com/.org/.net, *.example), telephone numbers come from ranges kept
free for fiction (see geography.py), names are drawn at random from common-name pools.

Files written to DATA_DIR/demo/ (read by impact assessment, detection and insights):

stores.parquet - one row per store
    store_id (str, e.g. "GB-MAN-01"), name, country (ISO 3166-1 alpha-2: GB, DE, US), region
    (UK nation, German Land, or US state USPS code), city, postcode, timezone (IANA),
    latitude, longitude (float64), format ("superstore" | "high_street" | "express"),
    click_and_collect (bool), opened_on (date)

customers.parquet - one row per customer
    customer_id (int64, 1..N), locale ("en_GB" | "de_DE" | "en_US"), country, first_name,
    last_name, email (lower-case, unique), phone (E.164, fictional range, shared), street
    (house number and street in the country's order), city, postcode, region, timezone,
    date_of_birth (date; every customer is 18-90 on `as_of`), loyalty_id (str or null),
    signup_date (date), preferred_channel (one of demand.CHANNELS), contact_preference
    ("email" | "sms" | "post"), home_store_id (str)

orders.parquet - one row per order, in time order
    order_id (int64, 1..M in time order), placed_at (timestamp[us, UTC]), customer_id, country,
    timezone (the customer's), channel ("web" | "app" | "store" | "click_and_collect"),
    store_id (str; null for web and app), amount_minor (int64, pence/cents), currency
    ("GBP" | "EUR" | "USD"), items (int32)

manifest.json - seed, counts, as_of, history window, disruptions, generated_at, columns.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from firstword.demo import geography, people
from firstword.demo.demand import CHANNELS, Disruption
from firstword.demo.geography import CITIES, COUNTRIES
from firstword.demo.orders import generate_orders

FILES = ("stores.parquet", "customers.parquet", "orders.parquet", "manifest.json")
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RetailerSpec:
    as_of: datetime  # "now" for the data: ages, sign-ups and the history are relative to it
    customers: int = 100_000
    seed: int = 20261120
    history_days: int = 90
    until: datetime | None = None  # orders continue to here (default: as_of)
    disruptions: tuple[Disruption, ...] = ()

    @property
    def history_start(self) -> datetime:
        return self.as_of - timedelta(days=self.history_days)

    @property
    def history_end(self) -> datetime:
        return self.until or self.as_of


@dataclass(frozen=True)
class Summary:
    customers_by_country: dict[str, int]
    orders_by_channel: dict[str, int]
    orders_by_country_channel: dict[str, dict[str, int]]
    stores_by_country: dict[str, int]
    history_start: datetime
    history_end: datetime


@dataclass
class Retailer:
    spec: RetailerSpec
    stores: pa.Table
    customers: pa.Table
    orders: pa.Table
    generated_at: datetime | None = None

    def summary(self) -> Summary:
        country = self.orders.column("country").to_numpy(zero_copy_only=False)
        channel = self.orders.column("channel").to_numpy(zero_copy_only=False)
        by_country_channel = {
            c: {ch: int(np.count_nonzero((country == c) & (channel == ch))) for ch in CHANNELS}
            for c in COUNTRIES
        }
        return Summary(
            customers_by_country=_counts(self.customers.column("country")),
            orders_by_channel={ch: int(np.count_nonzero(channel == ch)) for ch in CHANNELS},
            orders_by_country_channel=by_country_channel,
            stores_by_country=_counts(self.stores.column("country")),
            history_start=self.spec.history_start,
            history_end=self.spec.history_end,
        )

    def write(self, directory: Path, *, generated_at: datetime) -> Path:
        """Write the Parquet files and the manifest (each via a temporary file, renamed)."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, table in (
            ("stores.parquet", self.stores),
            ("customers.parquet", self.customers),
            ("orders.parquet", self.orders),
        ):
            temporary = directory / f".{name}.tmp"
            pq.write_table(table, temporary, compression="zstd")
            os.replace(temporary, directory / name)
        self.generated_at = generated_at
        manifest = {
            "format_version": FORMAT_VERSION,
            "generator": "firstword.demo.retailer",
            "seed": self.spec.seed,
            "as_of": self.spec.as_of.isoformat(),
            "history_start": self.spec.history_start.isoformat(),
            "history_end": self.spec.history_end.isoformat(),
            "generated_at": generated_at.isoformat(),
            "counts": {
                "stores": self.stores.num_rows,
                "customers": self.customers.num_rows,
                "orders": self.orders.num_rows,
            },
            "disruptions": [d.as_dict() for d in self.spec.disruptions],
            "columns": {
                "stores": self.stores.column_names,
                "customers": self.customers.column_names,
                "orders": self.orders.column_names,
            },
            "fictional": "all people, addresses, e-mail addresses and telephone numbers are "
            "synthetic; e-mail domains and telephone ranges are reserved for "
            "documentation and fiction",
        }
        path = directory / MANIFEST
        temporary = directory / f".{MANIFEST}.tmp"
        temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
        return path


def _counts(column: pa.ChunkedArray) -> dict[str, int]:
    return dict(sorted(Counter(column.to_pylist()).items()))


def generate(spec: RetailerSpec, on_phase: Callable[[str], None] | None = None) -> Retailer:
    """Build the retailer; `on_phase` hears "stores", "customers", "orders" as each starts."""
    if spec.customers < 1:
        raise ValueError("a retailer needs at least one customer")
    tell = on_phase or (lambda _phase: None)
    store_rng, customer_rng, order_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(3)
    )
    tell("stores")
    stores = _stores(store_rng)
    tell("customers")
    customers, activity = people.generate_customers(
        count=spec.customers, as_of=spec.as_of, seed=spec.seed, stores=stores, rng=customer_rng
    )
    tell("orders")
    orders = generate_orders(
        start=spec.history_start,
        end=spec.history_end,
        disruptions=spec.disruptions,
        stores=stores,
        customers=customers,
        activity=activity,
        rng=order_rng,
    )
    return Retailer(spec=spec, stores=stores, customers=customers, orders=orders)


# --- stores -------------------------------------------------------------------------------


def _stores(rng: np.random.Generator) -> pa.Table:
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "store_id",
            "name",
            "country",
            "region",
            "city",
            "postcode",
            "timezone",
            "latitude",
            "longitude",
            "format",
            "click_and_collect",
            "opened_on",
        )
    }
    for city in CITIES:
        suffixes = geography.STORE_SUFFIXES[city.country]
        codes = people.postcodes(city, city.stores, rng)
        for k in range(city.stores):
            # The first store in each city is a superstore with click-and-collect, so every
            # customer has a collection point in their city.
            fmt = (
                "superstore"
                if k == 0
                else str(rng.choice(["superstore", "high_street", "express"], p=[0.3, 0.5, 0.2]))
            )
            rows["store_id"].append(f"{city.country}-{city.code}-{k + 1:02d}")
            rows["name"].append(f"{city.name} {suffixes[k % len(suffixes)]}")
            rows["country"].append(city.country)
            rows["region"].append(city.region)
            rows["city"].append(city.name)
            rows["postcode"].append(codes[k])
            rows["timezone"].append(city.timezone)
            rows["latitude"].append(round(city.latitude + float(rng.normal(0, 0.03)), 5))
            rows["longitude"].append(round(city.longitude + float(rng.normal(0, 0.04)), 5))
            rows["format"].append(fmt)
            rows["click_and_collect"].append(fmt != "express")
            rows["opened_on"].append(
                np.datetime64("1995-01-01") + np.timedelta64(int(rng.integers(0, 27 * 365)), "D")
            )
    rows["opened_on"] = [d.astype(object) for d in rows["opened_on"]]
    return pa.table(rows)


# --- reading back and comparing windows ---------------------------------------------------


def read_orders(directory: Path) -> pa.Table:
    return pq.read_table(directory / "orders.parquet")


def read_manifest(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class WindowCount:
    channel: str
    observed: int
    expected: float  # mean of the same local weekday and time 1..weeks weeks earlier
    baseline_weeks: int


def _weeks_earlier(moment: datetime, weeks: int, zone: ZoneInfo) -> int:
    """Epoch seconds of the same local wall-clock time `weeks` earlier in `zone` (so a
    baseline across a daylight-saving change compares like with like)."""
    local = moment.astimezone(zone).replace(tzinfo=None) - timedelta(weeks=weeks)
    return int(local.replace(tzinfo=zone).timestamp())


def compare_window(
    orders: pa.Table, start: datetime, end: datetime, *, weeks: int = 4
) -> list[WindowCount]:
    """Orders per channel in [start, end) against the same local weekday and time in earlier
    weeks, time zone by time zone (only weeks the history fully covers)."""
    placed = orders.column("placed_at").cast(pa.int64()).to_numpy() // 1_000_000
    channel = orders.column("channel").to_numpy(zero_copy_only=False)
    timezone = orders.column("timezone").to_numpy(zero_copy_only=False)
    first = int(placed.min()) if len(placed) else int(start.timestamp())
    usable = [k for k in range(1, weeks + 1) if start.timestamp() - k * 7 * 86400 - 3600 >= first]
    observed = dict.fromkeys(CHANNELS, 0)
    past = dict.fromkeys(CHANNELS, 0)
    s, e = int(start.timestamp()), int(end.timestamp())
    for name in np.unique(timezone):
        zone = ZoneInfo(str(name))
        mine = timezone == name
        for ch in CHANNELS:
            times = placed[mine & (channel == ch)]
            observed[ch] += int(np.count_nonzero((times >= s) & (times < e)))
            for k in usable:
                lo, hi = _weeks_earlier(start, k, zone), _weeks_earlier(end, k, zone)
                past[ch] += int(np.count_nonzero((times >= lo) & (times < hi)))
    return [
        WindowCount(ch, observed[ch], past[ch] / len(usable) if usable else 0.0, len(usable))
        for ch in CHANNELS
    ]
