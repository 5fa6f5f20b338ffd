"""Market data for the trading env: load OHLCV bars, refuse bad rows, precompute features.

Sources (:func:`load_market_data`):

* ``None`` or ``"googl"``: the daily GOOGL bars that the gym-anytrading package ships
  (``gym_anytrading/datasets/data/STOCKS_GOOGL.csv``, 2335 rows from 2009-05-22), read from the
  installed package, never downloaded.
* ``"eurusd"``: gym-anytrading's hourly EUR/USD ask bars (``FOREX_EURUSD_1H_ASK.csv``, 6225 rows
  of 2017; its ``Time`` column is day-first, ``DD.MM.YYYY HH:MM:SS.fff``).
* a path to a CSV file, or a pandas DataFrame, with columns Date, Open, High, Low, Close and
  Volume (names case-insensitive; ``Datetime``, ``Time`` or ``Timestamp`` are accepted for
  Date, which may also be the index). ``Adj Close`` and any other column are ignored: the env
  trades the Open and Close prices as given.

Dates are parsed with pandas; timezone-aware dates are converted to UTC (and made naive).
``date_range="START:END"`` keeps the bars whose date lies in [START, END]: ISO dates, optionally
with a time, both ends inclusive (a bare END date keeps that whole day), either may be empty.

Every problem raises :class:`ValueError` naming the column and the row: a row is the 0-based
position of the bar in the data as given (before any date-range slicing), followed by its date
when that is known.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = (*PRICE_COLUMNS, "volume")
DATE_ALIASES = ("date", "datetime", "time", "timestamp")
FEATURE_NAMES = ("log_return", "hl_range", "volume_change")
FEATURE_CLIP = 10.0

# name -> (file in gym_anytrading/datasets/data, date column, strptime format or None)
BUILTIN_SETS: dict[str, tuple[str, str, str | None]] = {
    "googl": ("STOCKS_GOOGL.csv", "Date", "%Y-%m-%d"),
    "eurusd": ("FOREX_EURUSD_1H_ASK.csv", "Time", "%d.%m.%Y %H:%M:%S.%f"),
}


@dataclass(frozen=True, slots=True)
class MarketData:
    """Validated OHLCV bars as numpy arrays (float64 prices, datetime64[ns] dates)."""

    name: str
    dates: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.close)

    def iso_times(self) -> list[str]:
        """Each bar's date as an ISO string: ``YYYY-MM-DD`` for daily bars, else to the second."""
        days = self.dates.astype("datetime64[D]")
        unit: Literal["D", "s"] = "D" if bool(np.all(days == self.dates)) else "s"
        return [str(s) for s in np.datetime_as_string(self.dates, unit=unit)]


def builtin_csv_path(name: str) -> Path:
    """Path of one of gym-anytrading's CSV files, found without importing the package."""
    spec = importlib.util.find_spec("gym_anytrading")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"data {name!r} is read from the gym-anytrading package, which is not installed; "
            "install it (pip install gym-anytrading) or pass data= a CSV path or a DataFrame"
        )
    filename = BUILTIN_SETS[name][0]
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / filename
    if not path.is_file():
        raise ValueError(f"data {name!r}: {path} is missing from the installed gym-anytrading")
    return path


def load_market_data(
    data: pd.DataFrame | str | os.PathLike[str] | None = None, date_range: str | None = None
) -> MarketData:
    """Load, validate and slice bars from a DataFrame, a CSV path or a built-in set's name."""
    if data is None:
        data = "googl"
    date_format: str | None = None
    if isinstance(data, pd.DataFrame):
        name, frame = "DataFrame", data
    elif isinstance(data, str | os.PathLike):
        key = os.fspath(data)
        if key.lower() in BUILTIN_SETS:
            name = key.lower()
            date_format = BUILTIN_SETS[name][2]
            frame = pd.read_csv(builtin_csv_path(name))
        else:
            path = Path(key).expanduser()
            if not path.is_file():
                raise ValueError(
                    f"data {key!r}: no such file; pass a CSV path, a DataFrame, or one of "
                    f"{', '.join(repr(k) for k in BUILTIN_SETS)}"
                )
            try:
                frame = pd.read_csv(path)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise ValueError(f"data {key!r}: not a readable CSV file: {exc}") from None
            name = path.name
    else:
        raise ValueError(
            f"data must be a DataFrame, a CSV path or a data set name, got {type(data).__name__}"
        )
    market = validate_frame(frame, name, date_format=date_format)
    if date_range is not None:
        market = slice_dates(market, date_range)
    return market


def _date_series(frame: pd.DataFrame, columns: dict[str, str], name: str) -> pd.Series:
    for alias in DATE_ALIASES:
        if alias in columns:
            return frame[columns[alias]]
    index = frame.index
    if isinstance(index, pd.DatetimeIndex) or str(index.name or "").strip().lower() in (
        DATE_ALIASES
    ):
        return pd.Series(index, index=frame.index)
    raise ValueError(
        f"{name}: missing column 'Date' (looked for columns {', '.join(DATE_ALIASES)}, "
        f"case-insensitive, and for a date index); columns are {list(frame.columns)}"
    )


def _row(i: int, dates: pd.Series | None = None) -> str:
    if dates is None or pd.isna(dates.iloc[i]):
        return f"row {i}"
    return f"row {i} ({dates.iloc[i]})"


def validate_frame(
    frame: pd.DataFrame, name: str = "data", *, date_format: str | None = None
) -> MarketData:
    """Check a frame's columns and rows and turn it into :class:`MarketData`."""
    columns: dict[str, str] = {}
    for col in frame.columns:
        key = str(col).strip().lower()
        columns.setdefault(key, col)
    missing = [c.capitalize() for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(
            f"{name}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(needs Date, Open, High, Low, Close, Volume, case-insensitive); "
            f"columns are {list(frame.columns)}"
        )
    if len(frame) == 0:
        raise ValueError(f"{name}: no rows")
    raw_dates = _date_series(frame, columns, name).reset_index(drop=True)
    try:
        parsed = pd.to_datetime(raw_dates, errors="coerce", format=date_format)
    except (ValueError, TypeError) as exc:  # mixed timezones and the like
        raise ValueError(f"{name}: column 'Date' cannot be parsed as dates: {exc}") from None
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        i = int(bad[0])
        raw = raw_dates.iloc[i]
        what = "missing (NaN)" if pd.isna(raw) else f"not a date: {raw!r}"
        raise ValueError(f"{name}: column 'Date' {_row(i)} is {what}")
    arrays: dict[str, np.ndarray] = {}
    for col in REQUIRED_COLUMNS:
        label = str(columns[col])
        numeric = pd.to_numeric(frame[columns[col]].reset_index(drop=True), errors="coerce")
        values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            i = int(bad[0])
            raw = frame[columns[col]].iloc[i]
            what = "NaN (missing)" if pd.isna(raw) else f"not a finite number: {raw!r}"
            raise ValueError(f"{name}: column {label!r} {_row(i, parsed)} is {what}")
        if col in PRICE_COLUMNS:
            bad = np.flatnonzero(values <= 0)
            if len(bad):
                i = int(bad[0])
                raise ValueError(
                    f"{name}: column {label!r} {_row(i, parsed)} has a zero or negative price "
                    f"({float(values[i])!r}); prices must be > 0"
                )
        elif (values < 0).any():
            i = int(np.flatnonzero(values < 0)[0])
            raise ValueError(
                f"{name}: column {label!r} {_row(i, parsed)} has a negative volume "
                f"({float(values[i])!r})"
            )
        arrays[col] = values
    high, low = arrays["high"], arrays["low"]
    bad = np.flatnonzero(high < low)
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"{name}: {_row(i, parsed)} has High {float(high[i])!r} below Low {float(low[i])!r} "
            f"(columns {str(columns['high'])!r}, {str(columns['low'])!r})"
        )
    dates = parsed.to_numpy(dtype="datetime64[ns]")
    bad = np.flatnonzero(dates[1:] <= dates[:-1])
    if len(bad):
        i = int(bad[0]) + 1
        raise ValueError(
            f"{name}: column 'Date' is not increasing at {_row(i, parsed)}: it does not come "
            f"after row {i - 1} ({parsed.iloc[i - 1]}); sort the bars by date and drop duplicates"
        )
    return MarketData(name, dates, **arrays)


_ISO = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_RANGE = re.compile(rf"\s*({_ISO})?\s*:\s*({_ISO})?\s*")


def parse_date_range(date_range: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``"START:END"``, each an ISO date (``2015-01-31``, optionally with a time such as
    ``2015-01-31 09:30``) or empty, as two timestamps or None."""
    match = _RANGE.fullmatch(date_range) if isinstance(date_range, str) else None
    if match is None:
        raise ValueError(
            f"date_range must be 'START:END' with ISO dates such as 2015-01-31 (either side may "
            f"be empty), got {date_range!r}"
        )
    try:
        start, end = (pd.Timestamp(g) if g else None for g in match.groups())
    except ValueError as exc:
        raise ValueError(f"date_range {date_range!r}: {exc}") from None
    if start is not None and end is not None and start > end:
        raise ValueError(f"date_range {date_range!r}: start {start} is after end {end}")
    return start, end


def slice_dates(market: MarketData, date_range: str) -> MarketData:
    """The bars whose date lies in the inclusive ``date_range``; an empty result is refused."""
    start, end = parse_date_range(date_range)
    lo = 0 if start is None else int(np.searchsorted(market.dates, start.to_datetime64(), "left"))
    hi = (
        len(market)
        if end is None
        else int(np.searchsorted(market.dates, _end_of(end).to_datetime64(), "right"))
    )
    if hi <= lo:
        first, last = (str(d) for d in np.datetime_as_string(market.dates[[0, -1]], unit="s"))
        raise ValueError(
            f"date_range {date_range!r} selects no rows of {market.name}, "
            f"whose dates run from {first} to {last}"
        )
    return MarketData(
        f"{market.name}[{date_range}]", market.dates[lo:hi], market.open[lo:hi],
        market.high[lo:hi], market.low[lo:hi], market.close[lo:hi], market.volume[lo:hi],
    )  # fmt: skip


def _end_of(end: pd.Timestamp) -> pd.Timestamp:
    # A bare date as END means the whole day, so '2017-01-31' keeps that day's hourly bars.
    if end == end.normalize():
        return end + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    return end


FEATURE_LOOKBACK = 252  # bars of history each feature is scaled by (a year of daily bars)


def make_features(market: MarketData, lookback: int = FEATURE_LOOKBACK) -> np.ndarray:
    """Per-bar features, shape (n, 3) float32, each scaled causally and clipped.

    Columns (:data:`FEATURE_NAMES`): the close-to-close log return, the high-low range relative
    to the close, and the change of log(1 + volume). Bar 0 has no previous bar: its return and
    volume change are 0. Each feature of bar t is z-scored with the mean and standard deviation
    of bars max(1, t - lookback + 1) .. t: it uses nothing after bar t, so features computed on
    the whole data set and then cut to a date range are the same as those a trader had then,
    and a held-out range is not scaled with its own future.
    """
    n = len(market)
    feats = np.zeros((n, len(FEATURE_NAMES)), dtype=np.float64)
    feats[1:, 0] = np.diff(np.log(market.close))
    feats[:, 1] = (market.high - market.low) / market.close
    feats[1:, 2] = np.diff(np.log1p(market.volume))
    if n > 2:
        body = pd.DataFrame(feats[1:])
        rolling = body.rolling(lookback, min_periods=2)
        mean = rolling.mean().to_numpy(copy=True)
        std = rolling.std(ddof=0).to_numpy(copy=True)
        std[~np.isfinite(std) | (std < 1e-12)] = 1.0
        mean[~np.isfinite(mean)] = 0.0
        feats[1:] = (feats[1:] - mean) / std
        feats[0] = 0.0
    np.clip(feats, -FEATURE_CLIP, FEATURE_CLIP, out=feats)
    return np.ascontiguousarray(feats, dtype=np.float32)


def range_bounds(market: MarketData, part: MarketData) -> tuple[int, int]:
    """Where the bars of ``part`` (a slice of ``market`` by date) lie in ``market``."""
    lo = int(np.searchsorted(market.dates, part.dates[0], "left"))
    return lo, lo + len(part)
