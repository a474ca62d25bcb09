"""The synthetic retailer: deterministic, fictional, clean columns, and the seasonality it is
meant to have."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from firstword.demo import retailer
from firstword.demo.demand import Disruption
from firstword.demo.geography import CITIES, EMAIL_DOMAINS

AS_OF = datetime(2026, 11, 20, 18, 40, tzinfo=UTC)

CUSTOMER_COLUMNS = [
    "customer_id",
    "locale",
    "country",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "city",
    "postcode",
    "region",
    "timezone",
    "date_of_birth",
    "loyalty_id",
    "signup_date",
    "preferred_channel",
    "contact_preference",
    "home_store_id",
]
ORDER_COLUMNS = [
    "order_id",
    "placed_at",
    "customer_id",
    "country",
    "timezone",
    "channel",
    "store_id",
    "amount_minor",
    "currency",
    "items",
]
STORE_COLUMNS = [
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
]
FICTIONAL_PHONE = {
    "GB": re.compile(r"^\+44(7700900|2079460)\d{3}$"),
    "DE": re.compile(r"^\+49(3023125|4066969|6990009|2214710|8999998)\d{3}$"),
    "US": re.compile(r"^\+1\d{3}55501\d{2}$"),
}


@pytest.fixture(scope="module")
def world() -> retailer.Retailer:
    return retailer.generate(retailer.RetailerSpec(as_of=AS_OF, customers=3_000, seed=11))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_the_same_files_and_another_seed_does_not(tmp_path: Path) -> None:
    spec = retailer.RetailerSpec(as_of=AS_OF, customers=800, seed=5)
    first, second = retailer.generate(spec), retailer.generate(spec)
    first.write(tmp_path / "a", generated_at=AS_OF)
    second.write(tmp_path / "b", generated_at=AS_OF)
    for name in ("stores.parquet", "customers.parquet", "orders.parquet"):
        assert _sha256(tmp_path / "a" / name) == _sha256(tmp_path / "b" / name), name
    other = retailer.generate(retailer.RetailerSpec(as_of=AS_OF, customers=800, seed=6))
    assert (
        other.customers.column("email").to_pylist() != first.customers.column("email").to_pylist()
    )
    assert not other.orders.equals(first.orders)


def test_files_have_the_documented_columns(world: retailer.Retailer, tmp_path: Path) -> None:
    world.write(tmp_path, generated_at=AS_OF)
    assert pq.read_schema(tmp_path / "customers.parquet").names == CUSTOMER_COLUMNS
    assert pq.read_schema(tmp_path / "orders.parquet").names == ORDER_COLUMNS
    assert pq.read_schema(tmp_path / "stores.parquet").names == STORE_COLUMNS
    orders_schema = pq.read_schema(tmp_path / "orders.parquet")
    assert orders_schema.field("placed_at").type == pa.timestamp("us", tz="UTC")
    assert pq.read_schema(tmp_path / "customers.parquet").field("date_of_birth").type == (
        pa.date32()
    )
    manifest = retailer.read_manifest(tmp_path)
    assert manifest["seed"] == 11
    assert manifest["counts"] == {
        "stores": world.stores.num_rows,
        "customers": 3_000,
        "orders": world.orders.num_rows,
    }
    assert manifest["columns"]["orders"] == ORDER_COLUMNS


def test_customers_are_fictional_adult_and_consistent(world: retailer.Retailer) -> None:
    rows = world.customers.to_pylist()
    assert len(rows) == 3_000
    assert [r["customer_id"] for r in rows] == list(range(1, 3_001))
    emails = [r["email"] for r in rows]
    assert len(set(emails)) == len(emails)
    cities = {(c.country, c.name): c for c in CITIES}
    store_ids = set(world.stores.column("store_id").to_pylist())
    as_of = AS_OF.date()
    for r in rows:
        assert r["email"] == r["email"].strip().lower()
        local, domain = r["email"].split("@")
        assert domain in EMAIL_DOMAINS and re.fullmatch(r"[a-z0-9._]+", local), r["email"]
        assert FICTIONAL_PHONE[r["country"]].match(r["phone"]), r["phone"]
        assert r["locale"] == {"GB": "en_GB", "DE": "de_DE", "US": "en_US"}[r["country"]]
        city = cities[(r["country"], r["city"])]
        assert (r["region"], r["timezone"]) == (city.region, city.timezone)
        age = (
            as_of.year
            - r["date_of_birth"].year
            - ((as_of.month, as_of.day) < (r["date_of_birth"].month, r["date_of_birth"].day))
        )
        assert 18 <= age <= 90, r["date_of_birth"]
        assert r["date_of_birth"] < r["signup_date"] <= as_of
        assert r["home_store_id"] in store_ids and r["home_store_id"].startswith(r["country"])
        if r["country"] == "DE":
            assert re.fullmatch(r"\d{5}", r["postcode"])
        elif r["country"] == "GB":
            assert re.fullmatch(r"[A-Z]{1,2}\d{1,2} \d[A-Z]{2}", r["postcode"]), r["postcode"]
    loyalty = [r["loyalty_id"] for r in rows if r["loyalty_id"] is not None]
    assert 0.5 < len(loyalty) / len(rows) < 0.7
    assert len(set(loyalty)) == len(loyalty)
    shares = Counter(r["country"] for r in rows)
    assert set(shares) == {"GB", "DE", "US"} and shares["GB"] > shares["US"] > shares["DE"]


def test_orders_are_clean_and_point_at_real_stores_and_customers(world: retailer.Retailer) -> None:
    orders = world.orders.to_pylist()
    stores = {s["store_id"]: s for s in world.stores.to_pylist()}
    customers = world.customers.to_pylist()
    placed = [o["placed_at"] for o in orders]
    assert placed == sorted(placed)
    assert [o["order_id"] for o in orders] == list(range(1, len(orders) + 1))
    assert AS_OF - timedelta(days=90) <= placed[0] and placed[-1] < AS_OF
    for o in orders:
        customer = customers[o["customer_id"] - 1]
        assert (o["country"], o["timezone"]) == (customer["country"], customer["timezone"])
        assert o["currency"] == {"GB": "GBP", "DE": "EUR", "US": "USD"}[o["country"]]
        assert o["amount_minor"] > 0 and 1 <= o["items"] <= 40
        if o["channel"] in ("web", "app"):
            assert o["store_id"] is None
        else:
            assert stores[o["store_id"]]["country"] == o["country"]
        if o["channel"] == "click_and_collect":
            assert stores[o["store_id"]]["click_and_collect"]
    # about three orders per customer per quarter
    assert 2.0 < len(orders) / len(customers) < 4.5


def _local(order: dict[str, object]) -> datetime:
    placed = order["placed_at"]
    assert isinstance(placed, datetime)
    return placed.astimezone(ZoneInfo(str(order["timezone"])))


def test_weekends_are_heavier_online_and_saturday_in_stores(world: retailer.Retailer) -> None:
    per_weekday: Counter[tuple[str, int]] = Counter()
    days_seen: dict[int, set[date]] = {d: set() for d in range(7)}
    for order in world.orders.to_pylist():
        local = _local(order)
        kind = "store" if order["channel"] == "store" else "online"
        per_weekday[(kind, local.weekday())] += 1
        days_seen[local.weekday()].add(local.date())

    def daily(kind: str, weekdays: range | tuple[int, ...]) -> float:
        return sum(per_weekday[(kind, d)] for d in weekdays) / sum(
            len(days_seen[d]) for d in weekdays
        )

    assert daily("online", (5, 6)) > 1.08 * daily("online", range(5))
    assert daily("store", (5,)) > 1.25 * daily("store", range(5))


def test_evenings_belong_to_online_and_stores_keep_opening_hours(world: retailer.Retailer) -> None:
    evening: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for order in world.orders.to_pylist():
        local = _local(order)
        channel = str(order["channel"])
        total[channel] += 1
        evening[channel] += 18 <= local.hour < 22
        if channel == "store":
            assert 8 <= local.hour < 22, local
            if order["country"] == "DE":
                assert local.weekday() != 6, "German shops are closed on Sundays"
            if order["country"] == "GB" and local.weekday() == 6:
                assert 10 <= local.hour < 16, "UK Sunday trading hours"
    for online in ("web", "app"):
        assert evening[online] / total[online] > 2 * evening["store"] / total["store"]
    assert evening["web"] / total["web"] > 0.25


def test_the_business_grows_over_the_history() -> None:
    # Growth is ~10% over the quarter, so compare enough orders for noise not to hide it.
    world = retailer.generate(retailer.RetailerSpec(as_of=AS_OF, customers=20_000, seed=3))
    placed = world.orders.column("placed_at").to_pylist()
    start = AS_OF - timedelta(days=90)
    first = sum(1 for p in placed if p < start + timedelta(weeks=4))
    last = sum(1 for p in placed if p >= AS_OF - timedelta(weeks=4))
    assert last > 1.03 * first


def test_a_disruption_empties_its_channels_and_compare_window_sees_it() -> None:
    outage = Disruption(AS_OF - timedelta(hours=6), AS_OF, ("web", "app"), 0.0, "test")
    world = retailer.generate(
        retailer.RetailerSpec(as_of=AS_OF, customers=3_000, seed=11, disruptions=(outage,))
    )
    window = {w.channel: w for w in retailer.compare_window(world.orders, outage.start, outage.end)}
    assert window["web"].observed == 0 and window["app"].observed == 0
    assert window["web"].expected > 5 and window["web"].baseline_weeks == 4
    assert window["store"].observed > 0.5 * window["store"].expected > 0
    assert window["click_and_collect"].observed > 0


def test_summary_counts_match_the_tables(world: retailer.Retailer) -> None:
    summary = world.summary()
    assert sum(summary.customers_by_country.values()) == world.customers.num_rows
    assert sum(summary.orders_by_channel.values()) == world.orders.num_rows
    assert summary.stores_by_country == dict(
        sorted(Counter(c.country for c in CITIES for _ in range(c.stores)).items())
    )
    assert summary.orders_by_channel["web"] == sum(
        by["web"] for by in summary.orders_by_country_channel.values()
    )
