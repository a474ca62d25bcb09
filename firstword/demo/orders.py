"""Synthetic orders: which customer orders when, on which channel, at which store, for how
much. The timing comes from demand.py; baskets are log-normal per channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from firstword.demo import demand
from firstword.demo.demand import CHANNELS, Disruption
from firstword.demo.geography import COUNTRIES, CURRENCY

_MEDIAN_BASKET = {"web": 52.0, "app": 38.0, "store": 29.0, "click_and_collect": 64.0}
_CURRENCY_SCALE = {"GB": 1.0, "DE": 1.15, "US": 1.3}


def generate_orders(
    *,
    start: datetime,
    end: datetime,
    disruptions: tuple[Disruption, ...],
    stores: pa.Table,
    customers: pa.Table,
    activity: npt.NDArray[np.float64],
    rng: np.random.Generator,
) -> pa.Table:
    """Orders placed in [start, end) (columns in retailer.py), in time order."""
    hours = demand.hour_grid(start, end)
    hour_starts = np.array([int(h.timestamp()) for h in hours], dtype=np.int64)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    country = np.asarray(customers.column("country").to_pylist(), dtype=object)
    timezone = np.asarray(customers.column("timezone").to_pylist(), dtype=object)
    preferred = np.asarray(customers.column("preferred_channel").to_pylist(), dtype=object)
    home = np.asarray(customers.column("home_store_id").to_pylist(), dtype=object)
    cc_store = _collection_stores(stores, customers)
    country_store_ids = {
        c: np.asarray(
            [
                s
                for s, sc in zip(
                    stores.column("store_id").to_pylist(),
                    stores.column("country").to_pylist(),
                    strict=True,
                )
                if sc == c
            ],
            dtype=object,
        )
        for c in COUNTRIES
    }

    parts: list[dict[str, Any]] = []
    for zone in sorted(set(timezone.tolist())):
        members = np.flatnonzero(timezone == zone)
        zone_country = str(country[members[0]])
        for channel in CHANNELS:
            rates = demand.hourly_rates(
                country=zone_country,
                timezone=zone,
                customers=len(members),
                channel=channel,
                hours=hours,
                rng=rng,
            )
            counts = rng.poisson(rates)
            times = np.repeat(hour_starts, counts) + rng.integers(0, 3600, size=int(counts.sum()))
            times = times[(times >= lo) & (times < hi)]
            times = times[demand.keep_mask(times, channel, disruptions, rng)]
            weights = activity[members] * np.where(preferred[members] == channel, 4.0, 1.0)
            who = rng.choice(members, size=len(times), p=weights / weights.sum())
            if channel == "store":
                elsewhere = rng.random(len(who)) < 0.15  # shopping away from the home store
                pool = country_store_ids[zone_country]
                store = np.where(elsewhere, pool[rng.integers(0, len(pool), len(who))], home[who])
            elif channel == "click_and_collect":
                store = cc_store[who]
            else:
                store = np.full(len(who), None, dtype=object)
            basket = rng.lognormal(np.log(_MEDIAN_BASKET[channel]), 0.6, len(who))
            amount = np.round(basket * _CURRENCY_SCALE[zone_country] * 100).astype(np.int64)
            items = np.minimum(1 + rng.poisson(basket / 22), 40).astype(np.int32)
            parts.append(
                {
                    "placed_at": times,
                    "customer": who,
                    "channel": channel,
                    "zone": zone,
                    "country": zone_country,
                    "store": store,
                    "amount": amount,
                    "items": items,
                }
            )

    placed = np.concatenate([p["placed_at"] for p in parts])
    order = np.argsort(placed, kind="stable")

    def column(key: str) -> npt.NDArray[Any]:
        return np.concatenate([p[key] for p in parts])[order]

    def constant(key: str) -> npt.NDArray[Any]:
        return np.concatenate([np.full(len(p["placed_at"]), p[key], dtype=object) for p in parts])[
            order
        ]

    customer_index = column("customer")
    countries = constant("country")
    return pa.table(
        {
            "order_id": pa.array(np.arange(1, len(placed) + 1, dtype=np.int64)),
            "placed_at": pa.array(placed[order] * 1_000_000, pa.timestamp("us", tz="UTC")),
            "customer_id": pa.array(customer_index.astype(np.int64) + 1),
            "country": pa.array(countries.tolist(), pa.string()),
            "timezone": pa.array(constant("zone").tolist(), pa.string()),
            "channel": pa.array(constant("channel").tolist(), pa.string()),
            "store_id": pa.array(column("store").tolist(), pa.string()),
            "amount_minor": pa.array(column("amount").astype(np.int64)),
            "currency": pa.array([CURRENCY[c] for c in countries], pa.string()),
            "items": pa.array(column("items").astype(np.int32)),
        }
    )


def _collection_stores(stores: pa.Table, customers: pa.Table) -> npt.NDArray[Any]:
    """Where each customer collects: their home store if it offers click-and-collect, else the
    first store in their city that does."""
    capable = dict(
        zip(
            stores.column("store_id").to_pylist(),
            stores.column("click_and_collect").to_pylist(),
            strict=True,
        )
    )
    first_in_city: dict[str, str] = {}
    for store_id, city_name, ok in zip(
        stores.column("store_id").to_pylist(),
        stores.column("city").to_pylist(),
        stores.column("click_and_collect").to_pylist(),
        strict=True,
    ):
        if ok:
            first_in_city.setdefault(city_name, store_id)
    return np.asarray(
        [
            h if capable[h] else first_in_city[c]
            for h, c in zip(
                customers.column("home_store_id").to_pylist(),
                customers.column("city").to_pylist(),
                strict=True,
            )
        ],
        dtype=object,
    )
