"""Loading OHLCV data for the trading env: sources, columns, bad rows, date ranges, features."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rltrack.envs.trading import TradingEnv
from rltrack.envs.trading_data import (
    FEATURE_CLIP,
    load_market_data,
    make_features,
    parse_date_range,
)


def frame(n: int = 12) -> pd.DataFrame:
    close = 100.0 + np.arange(n, dtype=float)
    return pd.DataFrame(
        {
            "Date": pd.date_range("2021-03-01", periods=n, freq="D"),
            "Open": close - 0.5,
            "High": close + 1.0,
            "Low": close - 1.0,
            "Close": close,
            "Volume": 1000.0 + 10 * np.arange(n),
        }  # fmt: skip
    )


def googl_csv() -> Path:
    spec = importlib.util.find_spec("gym_anytrading")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "datasets" / "data" / "STOCKS_GOOGL.csv"


def test_dataframe_csv_and_date_index_load_the_same_bars(tmp_path: Path) -> None:
    df = frame()
    path = tmp_path / "bars.csv"
    df.rename(columns=str.lower).to_csv(path, index=False)  # lower-case headers
    upper = df.rename(columns=str.upper)
    indexed = df.set_index("Date")
    extra = df.assign(**{"Adj Close": df["Close"] * 0.9, "Note": "x"})
    loaded = [load_market_data(x) for x in (df, str(path), path, upper, indexed, extra)]
    for market in loaded:
        assert len(market) == 12
        np.testing.assert_array_equal(market.close, df["Close"].to_numpy())
        np.testing.assert_array_equal(market.open, df["Open"].to_numpy())  # not Adj Close
        np.testing.assert_array_equal(market.dates, df["Date"].to_numpy())
    assert loaded[0].iso_times()[:2] == ["2021-03-01", "2021-03-02"]


def test_builtin_sets_come_from_the_installed_package() -> None:
    googl = load_market_data(None)
    raw = pd.read_csv(googl_csv())
    assert len(googl) == len(raw) == 2335
    np.testing.assert_allclose(googl.close, raw["Close"].to_numpy())
    assert googl.iso_times()[0] == "2009-05-22"
    assert load_market_data("GOOGL").name == "googl"
    eurusd = load_market_data("eurusd")
    assert len(eurusd) == 6225
    # Day-first times: 01.01.2017 22:00 is the first bar, 02.01.2017 00:00 the third.
    assert eurusd.iso_times()[:3] == [
        "2017-01-01T22:00:00", "2017-01-01T23:00:00", "2017-01-02T00:00:00",
    ]  # fmt: skip


def test_date_range_slices_inclusively_and_either_side_may_be_empty() -> None:
    raw = pd.read_csv(googl_csv(), parse_dates=["Date"])
    for text, mask in [
        ("2012-01-01:2012-06-30", (raw.Date >= "2012-01-01") & (raw.Date <= "2012-06-30")),
        (":2009-12-31", raw.Date <= "2009-12-31"),
        ("2018-01-01:", raw.Date >= "2018-01-01"),
        ("2015-03-02:2015-03-02", raw.Date == "2015-03-02"),
    ]:
        market = load_market_data("googl", text)
        assert len(market) == int(mask.sum()) > 0, text
        np.testing.assert_allclose(market.close, raw.Close[mask].to_numpy())
    fx = load_market_data("eurusd", "2017-03-01:2017-03-01")  # a bare END date keeps its day
    assert len(fx) == 24
    fx = load_market_data("eurusd", "2017-03-01 10:00:2017-03-01 12:00")
    assert fx.iso_times() == [
        "2017-03-01T10:00:00", "2017-03-01T11:00:00", "2017-03-01T12:00:00",
    ]  # fmt: skip
    assert parse_date_range(":") == (None, None)


def set_cell(column: str, row: int, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df = df.astype({column: object}) if isinstance(value, str) else df
        df.loc[row, column] = value
        return df

    return change


BAD_DATA: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str]] = [
    ("missing Volume", lambda d: d.drop(columns="Volume"), "missing column Volume"),
    ("missing two", lambda d: d.drop(columns=["High", "Low"]), "missing columns High, Low"),
    ("missing Date", lambda d: d.drop(columns="Date"), "missing column 'Date'"),
    ("NaN close", set_cell("Close", 4, np.nan), r"column 'Close' row 4 \(2021-03-05.*NaN"),
    ("NaN volume", set_cell("Volume", 7, np.nan), "column 'Volume' row 7 .*NaN"),
    ("text price", set_cell("High", 3, "n/a"), "column 'High' row 3 .*not a finite number"),
    ("zero open", set_cell("Open", 2, 0.0), "column 'Open' row 2 .*zero or negative price"),
    ("negative low", set_cell("Low", 5, -1.0), "column 'Low' row 5 .*zero or negative price"),
    ("negative volume", set_cell("Volume", 1, -5.0), "column 'Volume' row 1 .*negative volume"),
    ("high below low", set_cell("High", 6, 50.0), "row 6 .*High 50.0 below Low"),
    ("NaN date", set_cell("Date", 3, pd.NaT), "column 'Date' row 3 is missing"),
    (
        "date going back",
        set_cell("Date", 6, pd.Timestamp("2021-03-02")),
        r"column 'Date' is not increasing at row 6 \(2021-03-02",
    ),  # fmt: skip
    (
        "duplicate date",
        set_cell("Date", 9, pd.Timestamp("2021-03-09")),
        "column 'Date' is not increasing at row 9",
    ),  # fmt: skip
    ("no rows", lambda d: d.iloc[:0], "no rows"),
]


@pytest.mark.parametrize(
    ("change", "message"), [b[1:] for b in BAD_DATA], ids=[b[0] for b in BAD_DATA]
)
def test_bad_data_is_refused_naming_the_column_and_row(
    change: Callable[[pd.DataFrame], pd.DataFrame], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_market_data(change(frame()))


def test_bad_dates_in_a_csv_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    df = frame().astype({"Date": object})
    df.loc[3, "Date"] = "not a date"
    df.to_csv(path, index=False)
    with pytest.raises(ValueError, match="column 'Date' row 3 is not a date: 'not a date'"):
        load_market_data(path)
    path.write_text("")
    with pytest.raises(ValueError, match="not a readable CSV"):
        load_market_data(path)


def test_too_few_rows_and_empty_date_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="12 rows, fewer than the 13 that window_size 11"):
        TradingEnv(frame(), window_size=11)
    with pytest.raises(ValueError, match="fewer than the 13 .* episode_length 7"):
        TradingEnv(frame(), window_size=5, episode_length=7)
    with pytest.raises(ValueError, match="3 rows, fewer than the 4"):
        TradingEnv(frame(), window_size=2, date_range="2021-03-01:2021-03-03")
    with pytest.raises(ValueError, match="selects no rows .* dates run from 2021-03-01"):
        load_market_data(frame(), "2030-01-01:")
    with pytest.raises(ValueError, match="selects no rows"):
        TradingEnv("googl", date_range="2009-05-23:2009-05-25")  # a weekend
    with pytest.raises(ValueError, match="start 2021-03-05 00:00:00 is after end"):
        load_market_data(frame(), "2021-03-05:2021-03-01")
    for bad in ("2021-03-01", "yesterday:today", "2021/03/01:"):
        with pytest.raises(ValueError, match="date_range must be 'START:END' with ISO dates"):
            load_market_data(frame(), bad)
    with pytest.raises(ValueError, match="date_range '2021-02-30:'"):
        load_market_data(frame(), "2021-02-30:")


def test_features_are_finite_scaled_and_clipped() -> None:
    market = load_market_data("googl")
    feats = make_features(market)
    assert feats.shape == (len(market), 3) and feats.dtype == np.float32
    assert np.isfinite(feats).all() and np.abs(feats).max() <= FEATURE_CLIP
    body = feats[1:].astype(np.float64)
    assert np.abs(body.mean(axis=0)).max() < 0.2  # scaled around 0 by a trailing window
    assert feats[0, 0] == 0.0 and feats[0, 2] == 0.0  # bar 0 has no previous bar
    up = np.diff(market.close) > 0
    assert up.any()


def test_features_use_no_future_bars() -> None:
    market = load_market_data("googl")
    feats = make_features(market)
    # Changing every bar after t leaves the features up to t as they were.
    t = 1500
    close, high, volume = market.close.copy(), market.high.copy(), market.volume.copy()
    close[t + 1 :] *= 3.0
    high[t + 1 :] *= 3.5
    volume[t + 1 :] += 1e6
    later = dataclasses.replace(market, close=close, high=high, volume=volume)
    np.testing.assert_array_equal(make_features(later)[: t + 1], feats[: t + 1])
    assert not np.array_equal(make_features(later)[t + 2 :], feats[t + 2 :])


def test_a_date_range_sees_the_features_of_the_whole_history() -> None:
    from rltrack.envs.trading import TradingEnv

    full = make_features(load_market_data("googl"))
    env = TradingEnv(date_range="2016-01-01:", window_size=5)
    market = load_market_data("googl")
    lo = int(np.searchsorted(market.dates, np.datetime64("2016-01-01"), "left"))
    obs, _ = env.reset(seed=0)
    # The first observation's window holds the features of the range's bars 1..5, computed
    # with the history before 2016 (not rescaled with the held-out years themselves).
    np.testing.assert_array_equal(obs[:-2], full[lo + 1 : lo + 6].ravel())
