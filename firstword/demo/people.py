"""Synthetic customers: names, addresses, e-mail, fictional phone numbers, ages, loyalty,
channel preferences. Faker only fills small per-locale pools; numpy samples from them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from firstword.demo import geography
from firstword.demo.demand import CHANNELS
from firstword.demo.geography import CITIES, COUNTRIES, LOCALE

_PREFERRED = {  # share of customers preferring each channel, in CHANNELS order
    "GB": (0.38, 0.24, 0.28, 0.10),
    "DE": (0.35, 0.14, 0.45, 0.06),
    "US": (0.40, 0.24, 0.26, 0.10),
}
IntArray = npt.NDArray[np.int64]


def postcodes(city: geography.City, count: int, rng: np.random.Generator) -> list[str]:
    if city.country == "GB":
        areas = rng.choice(np.array(city.postcode_areas), size=count)
        district = rng.integers(1, 21, size=count)
        sector = rng.integers(0, 10, size=count)
        letters = np.array(list(geography.UK_INWARD_LETTERS))
        unit = rng.choice(letters, size=(count, 2))
        return [
            f"{a}{d} {s}{u[0]}{u[1]}"
            for a, d, s, u in zip(areas, district, sector, unit, strict=True)
        ]
    low, high = city.postcode_range
    return [f"{n:05d}" for n in rng.integers(low, high + 1, size=count)]


def _slug(name: str) -> str:
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        name = name.replace(umlaut, plain).replace(umlaut.upper(), plain.capitalize())
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_name.lower() if c.isalnum())


@dataclass(frozen=True)
class _Pools:
    first: list[str]
    last: list[str]
    streets: list[str]


def _pools(locale: str, seed: int, rng: np.random.Generator) -> _Pools:
    """Names drawn by Faker with their real-world frequencies; sampling from these pools keeps
    the frequencies without calling Faker once per customer."""
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(seed)
    first = [fake.first_name() for _ in range(2000)]
    last = [fake.last_name() for _ in range(2000)]
    if locale == "de_DE":
        streets = [fake.street_name() for _ in range(1500)]
    else:
        words, suffixes = (
            (geography.UK_STREET_WORDS, geography.UK_STREET_SUFFIXES)
            if locale == "en_GB"
            else (geography.US_STREET_WORDS, geography.US_STREET_SUFFIXES)
        )
        bases = list(words) + last[:200]
        streets = [
            f"{bases[b]} {suffixes[s]}"
            for b, s in zip(
                rng.integers(0, len(bases), 1500), rng.integers(0, len(suffixes), 1500), strict=True
            )
        ]
    return _Pools(first, last, streets)


def _pick(pool: list[str], idx: IntArray) -> list[str]:
    return [pool[i] for i in idx]


def generate_customers(
    *, count: int, as_of: datetime, seed: int, stores: pa.Table, rng: np.random.Generator
) -> tuple[pa.Table, npt.NDArray[np.float64]]:
    """The customers table (columns in retailer.py) and each customer's relative activity
    (how often they order, for the order generator)."""
    n = count
    as_of_day = np.datetime64(as_of.date(), "D")
    shares = np.array([geography.CUSTOMER_SHARE[c] for c in COUNTRIES])
    country_idx = rng.choice(len(COUNTRIES), size=n, p=shares / shares.sum())
    city_idx = np.empty(n, dtype=np.int64)
    for ci, code in enumerate(COUNTRIES):
        members = np.flatnonzero(country_idx == ci)
        options = [i for i, city in enumerate(CITIES) if city.country == code]
        weights = np.array([CITIES[i].weight for i in options])
        city_idx[members] = rng.choice(options, size=len(members), p=weights / weights.sum())
    country = np.array(COUNTRIES)[country_idx]

    age_days = np.clip(rng.normal(44, 15, n) * 365.25, 18 * 365.25 + 1, 90 * 365.25 - 1)
    date_of_birth = as_of_day - age_days.astype("timedelta64[D]")
    age = age_days / 365.25
    tenure = np.minimum(rng.exponential(700, n), 3650).astype("timedelta64[D]")
    adult_on = date_of_birth + np.timedelta64(6575, "D")
    signup = np.maximum(as_of_day - tenure, adult_on)

    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    street = np.empty(n, dtype=object)
    first_slug = np.empty(n, dtype=object)
    last_slug = np.empty(n, dtype=object)
    for ci, ccode in enumerate(COUNTRIES):
        members = np.flatnonzero(country_idx == ci)
        pools = _pools(LOCALE[ccode], seed + ci, rng)
        fi = rng.integers(0, len(pools.first), len(members))
        li = rng.integers(0, len(pools.last), len(members))
        si = rng.integers(0, len(pools.streets), len(members))
        number = np.minimum(rng.geometric(0.025, len(members)), 399)
        first[members] = _pick(pools.first, fi)
        last[members] = _pick(pools.last, li)
        first_slug[members] = [_slug(pools.first[i]) or "customer" for i in fi]
        last_slug[members] = [_slug(pools.last[i]) or "x" for i in li]
        streets = _pick(pools.streets, si)
        street[members] = (
            [f"{s} {h}" for s, h in zip(streets, number, strict=True)]
            if ccode == "DE"
            else [f"{h} {s}" for s, h in zip(streets, number, strict=True)]
        )

    city = np.empty(n, dtype=object)
    postcode = np.empty(n, dtype=object)
    region = np.empty(n, dtype=object)
    timezone = np.empty(n, dtype=object)
    home_store = np.empty(n, dtype=object)
    store_city = np.asarray(stores.column("city").to_pylist(), dtype=object)
    store_ids = np.asarray(stores.column("store_id").to_pylist(), dtype=object)
    for i, place in enumerate(CITIES):
        members = np.flatnonzero(city_idx == i)
        city[members] = place.name
        region[members] = place.region
        timezone[members] = place.timezone
        postcode[members] = postcodes(place, len(members), rng)
        local = store_ids[store_city == place.name]
        home_store[members] = local[rng.integers(0, len(local), len(members))]

    birth_year = date_of_birth.astype("datetime64[Y]").astype(int) + 1970
    email = _emails(first_slug, last_slug, birth_year, rng)
    phone = _phones(country, city, rng)
    preferred = _preferred_channels(country_idx, age, rng)
    contact = np.where(
        rng.random(n) < np.where(age > 70, 0.35, 0.08),
        "post",
        np.where(rng.random(n) < 0.2, "sms", "email"),
    )
    member = rng.random(n) < 0.6
    # An affine map modulo 10^9 with a multiplier coprime to 10 is a bijection: unique ids.
    loyalty_number = (np.arange(n, dtype=np.int64) * 7919 + 52711) % 1_000_000_000
    loyalty = [f"LY{x:09d}" if m else None for x, m in zip(loyalty_number, member, strict=True)]
    activity = rng.gamma(0.7, 1.0, n) * np.where(member, 1.5, 1.0)

    table = pa.table(
        {
            "customer_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "locale": pa.array([LOCALE[c] for c in country]),
            "country": pa.array(country.tolist()),
            "first_name": pa.array(first.tolist()),
            "last_name": pa.array(last.tolist()),
            "email": pa.array(email),
            "phone": pa.array(phone),
            "street": pa.array(street.tolist()),
            "city": pa.array(city.tolist()),
            "postcode": pa.array(postcode.tolist()),
            "region": pa.array(region.tolist()),
            "timezone": pa.array(timezone.tolist()),
            "date_of_birth": pa.array(date_of_birth),
            "loyalty_id": pa.array(loyalty, pa.string()),
            "signup_date": pa.array(signup),
            "preferred_channel": pa.array(np.array(CHANNELS)[preferred].tolist()),
            "contact_preference": pa.array(contact.tolist()),
            "home_store_id": pa.array(home_store.tolist()),
        }
    )
    return table, activity


def _emails(
    first: npt.NDArray[Any], last: npt.NDArray[Any], birth_year: IntArray, rng: np.random.Generator
) -> list[str]:
    n = len(first)
    pattern = rng.choice(6, size=n, p=[0.4, 0.15, 0.15, 0.1, 0.1, 0.1])
    domains = np.array(geography.EMAIL_DOMAINS)[
        rng.choice(len(geography.EMAIL_DOMAINS), size=n, p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05])
    ]
    suffix = rng.integers(1, 1000, size=n)
    seen: set[str] = set()
    emails: list[str] = []
    for f, la, p, y, s, d in zip(first, last, pattern, birth_year, suffix, domains, strict=True):
        local = (
            f"{f}.{la}",
            f"{f}{la}",
            f"{f[0]}.{la}",
            f"{f}_{la}",
            f"{f}.{la}{y % 100:02d}",
            f"{f}{s}",
        )[p]
        candidate, k = f"{local}@{d}", 1
        while candidate in seen:  # keep e-mail unique, as a real customer database does
            k += 1
            candidate = f"{local}{k}@{d}"
        seen.add(candidate)
        emails.append(candidate)
    return emails


def _phones(
    country: npt.NDArray[Any], city: npt.NDArray[Any], rng: np.random.Generator
) -> list[str]:
    n = len(country)
    last3 = rng.integers(0, 1000, size=n)
    landline = rng.random(n) < 0.2
    de_prefixes = list(geography.DE_DRAMA.values())
    de_random = rng.integers(0, len(de_prefixes), size=n)
    area = {c.name: c.area_code for c in CITIES if c.country == "US"}
    phones: list[str] = []
    for i in range(n):
        if country[i] == "GB":
            prefix = (
                geography.UK_LONDON_DRAMA
                if landline[i] and city[i] == "London"
                else geography.UK_MOBILE_DRAMA
            )
            phones.append(f"{prefix}{last3[i]:03d}")
        elif country[i] == "DE":
            # Only five German cities have fictional blocks; other cities borrow one of them.
            prefix = geography.DE_DRAMA.get(city[i], de_prefixes[de_random[i]])
            phones.append(f"{prefix}{last3[i]:03d}")
        else:
            phones.append(f"+1{area[city[i]]}{geography.US_FICTIONAL_EXCHANGE}{last3[i] % 100:02d}")
    return phones


def _preferred_channels(
    country_idx: IntArray, age: npt.NDArray[np.float64], rng: np.random.Generator
) -> IntArray:
    """Younger customers lean to the app, older ones to stores."""
    base = np.array([_PREFERRED[c] for c in COUNTRIES])[country_idx]
    app, store = CHANNELS.index("app"), CHANNELS.index("store")
    base[:, app] *= np.where(age < 35, 1.8, np.where(age > 65, 0.4, 1.0))
    base[:, store] *= np.where(age > 65, 1.4, 1.0)
    cumulative = np.cumsum(base / base.sum(axis=1, keepdims=True), axis=1)
    draw = rng.random(len(country_idx))[:, None]
    chosen: IntArray = np.minimum((draw > cumulative).sum(axis=1), len(CHANNELS) - 1)
    return chosen
