"""When customers order: channel mix, intraday and weekly seasonality, trend, and disruptions.

Orders are a Poisson process per (time zone, channel, UTC hour) whose rate is
    customers in the zone x daily rate for the channel x weekday factor (local weekday)
    x share of the day falling in that local hour x trend x day-to-day noise,
thinned by any disruption (an outage keeps only `factor` of the orders a channel would take).
Online channels peak in the evening, stores at midday and only while open (UK large stores
trade six hours on Sunday; German shops close on Sunday), weekends are heavier, and the
business grows about 10% over the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

CHANNELS = ("web", "app", "store", "click_and_collect")
# Channels whose orders go through the online checkout (click-and-collect is ordered online).
ONLINE_CHANNELS = ("web", "app", "click_and_collect")

# Orders per customer per day, by country and channel (about three orders a quarter).
DAILY_RATE = {
    "GB": {"web": 0.012, "app": 0.008, "store": 0.010, "click_and_collect": 0.004},
    "DE": {"web": 0.011, "app": 0.005, "store": 0.015, "click_and_collect": 0.002},
    "US": {"web": 0.013, "app": 0.008, "store": 0.009, "click_and_collect": 0.004},
}

# Relative orders per local hour 0..23.
_HOURLY = {
    "web": (
        0.6,
        0.3,
        0.2,
        0.15,
        0.15,
        0.3,
        0.8,
        1.8,
        2.6,
        3.2,
        3.6,
        3.9,
        4.3,
        4.1,
        3.8,
        3.7,
        3.9,
        4.4,
        5.2,
        6.2,
        6.8,
        6.3,
        4.6,
        2.4,
    ),
    "app": (
        0.9,
        0.5,
        0.3,
        0.2,
        0.2,
        0.4,
        1.2,
        2.8,
        3.0,
        2.6,
        2.7,
        3.0,
        3.8,
        3.5,
        3.0,
        3.0,
        3.3,
        3.9,
        4.8,
        6.0,
        7.2,
        7.4,
        5.8,
        3.2,
    ),
    "click_and_collect": (
        0.2,
        0.1,
        0.05,
        0.05,
        0.05,
        0.2,
        0.8,
        2.2,
        3.5,
        4.6,
        5.2,
        5.6,
        5.4,
        4.8,
        4.3,
        3.9,
        3.6,
        3.4,
        3.3,
        3.2,
        2.8,
        2.0,
        1.1,
        0.5,
    ),
}
# Store footfall by hour while open: a lunchtime peak and a smaller after-work one.
_STORE_HOURLY = {
    8: 1.5,
    9: 2.5,
    10: 3.6,
    11: 4.8,
    12: 5.8,
    13: 5.6,
    14: 4.6,
    15: 4.2,
    16: 4.4,
    17: 5.0,
    18: 4.3,
    19: 3.0,
    20: 2.0,
    21: 1.2,
}
# Opening hours [open, close) by country, Monday..Saturday and Sunday.
_OPENING = {"GB": ((8, 20), (10, 16)), "DE": ((8, 20), None), "US": ((8, 22), (9, 20))}

# Relative daily volume Monday..Sunday (normalised to mean 1 below).
_WEEKLY = {
    "web": (1.02, 0.94, 0.93, 0.95, 0.92, 1.06, 1.18),
    "app": (0.98, 0.92, 0.92, 0.95, 0.96, 1.10, 1.17),
    "click_and_collect": (0.95, 0.92, 0.93, 0.97, 1.06, 1.20, 0.97),
}
_STORE_WEEKLY = {
    "GB": (0.88, 0.86, 0.90, 0.96, 1.12, 1.45, 0.83),
    "DE": (0.92, 0.90, 0.95, 1.02, 1.25, 1.96, 0.0),
    "US": (0.86, 0.84, 0.88, 0.94, 1.10, 1.38, 1.10),
}
GROWTH_OVER_HISTORY = 0.10
DAILY_NOISE_SIGMA = 0.06


@dataclass(frozen=True)
class Disruption:
    """Channels that took only `factor` of their normal orders between start and end."""

    start: datetime
    end: datetime
    channels: tuple[str, ...]
    factor: float = 0.0
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "channels": list(self.channels),
            "factor": self.factor,
            "reason": self.reason,
        }


def _profile(channel: str, country: str) -> npt.NDArray[np.float64]:
    """Share of each weekday's orders per local hour: shape (7, 24), rows sum to 1 (or 0 on
    a day the channel does not trade)."""
    table = np.zeros((7, 24))
    if channel != "store":
        hourly = np.asarray(_HOURLY[channel], dtype=float)
        table[:] = hourly / hourly.sum()
        return table
    weekday_hours, sunday_hours = _OPENING[country]
    for weekday in range(7):
        hours = sunday_hours if weekday == 6 else weekday_hours
        if hours is None:
            continue
        for hour in range(hours[0], hours[1]):
            table[weekday, hour] = _STORE_HOURLY.get(hour, 1.0)
        table[weekday] /= table[weekday].sum()
    return table


def _weekly(channel: str, country: str) -> npt.NDArray[np.float64]:
    values = np.asarray(
        _STORE_WEEKLY[country] if channel == "store" else _WEEKLY[channel], dtype=np.float64
    )
    normalised: npt.NDArray[np.float64] = values / values.mean()
    return normalised


def hour_grid(start: datetime, end: datetime) -> list[datetime]:
    """Whole UTC hours covering [start, end)."""
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    count = int(np.ceil((end - first).total_seconds() / 3600))
    return [first + timedelta(hours=i) for i in range(count)]


def _local_calendar(
    hours: list[datetime], timezone: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    zone = ZoneInfo(timezone)
    local = [h.astimezone(zone) for h in hours]
    return (
        np.array([t.weekday() for t in local], dtype=np.int64),
        np.array([t.hour for t in local], dtype=np.int64),
    )


def hourly_rates(
    *,
    country: str,
    timezone: str,
    customers: int,
    channel: str,
    hours: list[datetime],
    rng: np.random.Generator,
) -> npt.NDArray[np.float64]:
    """Expected orders in each UTC hour of `hours` for one zone and channel (before any
    disruption)."""
    weekday, local_hour = _local_calendar(hours, timezone)
    profile = _profile(channel, country)
    weekly = _weekly(channel, country)
    position = np.arange(len(hours)) / max(len(hours) - 1, 1)
    trend = (1 - GROWTH_OVER_HISTORY / 2) + GROWTH_OVER_HISTORY * position
    day_index = np.arange(len(hours)) // 24
    noise = rng.lognormal(0.0, DAILY_NOISE_SIGMA, size=int(day_index.max()) + 1)[day_index]
    daily = customers * DAILY_RATE[country][channel]
    rates: npt.NDArray[np.float64] = np.asarray(
        daily * weekly[weekday] * profile[weekday, local_hour] * trend * noise, dtype=np.float64
    )
    return rates


def keep_mask(
    times: npt.NDArray[np.int64],
    channel: str,
    disruptions: tuple[Disruption, ...],
    rng: np.random.Generator,
) -> npt.NDArray[np.bool_]:
    """Poisson thinning: which orders (epoch seconds) survive the disruptions of `channel`."""
    keep_probability = np.ones(len(times))
    for disruption in disruptions:
        if channel not in disruption.channels:
            continue
        inside = (times >= int(disruption.start.timestamp())) & (
            times < int(disruption.end.timestamp())
        )
        keep_probability[inside] *= disruption.factor
    mask: npt.NDArray[np.bool_] = rng.random(len(times)) < keep_probability
    return mask
