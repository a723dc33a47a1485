"""The data-quality panel: records that needed repair or could not be read, and duplicate phones (SPEC §9)."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from services.frame import DUPLICATE, NINTH_DIGIT, CustomerData

OUTSIDE_CATALOG = "produto fora do catálogo"

REPORT_COLUMNS = ["id", "store", "name", "phone_raw", "reason"]
PAIR_COLUMNS = [
    "store", "reason",
    "id_a", "name_a", "phone_a", "phone_raw_a",
    "id_b", "name_b", "phone_b", "phone_raw_b",
]


def quality_report(data: CustomerData, catalog_keys: Collection[str] = ()) -> pd.DataFrame:
    """Every customer with a data problem, one row per reason.

    Args:
        data: the customer frame, scoped to the allowed stores.
        catalog_keys: the keys of the base's product catalog; when given, a customer with a
            product outside it gets the reason ``OUTSIDE_CATALOG``.

    Returns:
        ``id, store, name, phone_raw, reason``, by store then customer order.
    """
    customers = data.customers
    problems = customers["problems"]
    if catalog_keys:
        outside = np.zeros(len(customers), dtype=bool)
        outside[_outside_items(data, catalog_keys)["cid"].to_numpy()] = True
        problems = problems.where(~outside, problems.map(lambda p: [*p, OUTSIDE_CATALOG]))
    has_problems = problems.str.len().to_numpy() > 0
    flagged = customers.loc[has_problems, ["id", "store", "name", "phone_raw"]].assign(
        problems=problems[has_problems])
    rows = flagged.explode("problems").rename(columns={"problems": "reason"})
    rows = rows.sort_values("store", kind="stable")
    return rows[REPORT_COLUMNS].reset_index(drop=True)


def _outside_items(data: CustomerData, catalog_keys: Collection[str]) -> pd.DataFrame:
    """The history items whose product key is not in the catalog."""
    items = data.history_items
    return items[~items["key"].astype(object).isin(set(catalog_keys)).to_numpy()]


def outside_catalog(data: CustomerData, catalog_keys: Collection[str]) -> pd.DataFrame:
    """Products customers asked about that the catalog does not hold (a typo, or a new product).

    Args:
        data: the customer frame, scoped to the allowed stores.
        catalog_keys: the keys of the base's product catalog; empty means no catalog to check.

    Returns:
        ``title, customers``: the product as first spelled and how many customers hold it,
        most held first (empty without a catalog).
    """
    if not catalog_keys:
        return pd.DataFrame({"title": pd.Series([], dtype=object),
                             "customers": pd.Series([], dtype=np.int64)})
    items = _outside_items(data, catalog_keys)
    counts = items.drop_duplicates(["cid", "key"]).groupby("key", observed=True).size()
    frame = pd.DataFrame({
        "title": data.products["title"].reindex(counts.index.astype(object)).to_numpy(),
        "customers": counts.to_numpy().astype(np.int64),
    })
    return frame.sort_values(["customers", "title"], ascending=[False, True], ignore_index=True)


def reason_counts(report: pd.DataFrame) -> pd.DataFrame:
    """How many customers each reason touches.

    Args:
        report: a ``quality_report`` result.

    Returns:
        ``reason, customers``, most frequent first.
    """
    counts = report.drop_duplicates(["id", "store", "reason"]).groupby("reason").size()
    frame = counts.rename("customers").reset_index()
    frame["customers"] = frame["customers"].astype(np.int64)
    return frame.sort_values(
        ["customers", "reason"], ascending=[False, True], ignore_index=True
    )


def duplicate_phones(data: CustomerData) -> pd.DataFrame:
    """Pairs of customers of one store that share a phone.

    A pair is an exact duplicate (same E.164) or the same Brazilian mobile with
    and without the ninth digit (same phone key, different E.164).

    Args:
        data: the customer frame, scoped to the allowed stores.

    Returns:
        ``store, reason, id_a, name_a, phone_a, phone_raw_a, id_b, name_b, phone_b,
        phone_raw_b`` (``reason`` is the panel's text for either kind), one row per
        pair, by store then phone.
    """
    customers = data.customers
    keyed = customers[customers["phone_key"].notna()]
    shared = keyed[keyed.duplicated(["store", "phone_key"], keep=False)]
    sides = shared[["store", "phone_key", "id", "name", "phone", "phone_raw"]].assign(
        row=np.arange(len(shared))
    )
    pairs = sides.merge(sides, on=["store", "phone_key"], suffixes=("_a", "_b"))
    pairs = pairs[pairs["row_a"] < pairs["row_b"]]
    pairs = pairs.assign(
        reason=np.where(pairs["phone_a"] == pairs["phone_b"], DUPLICATE, NINTH_DIGIT)
    )
    pairs = pairs.sort_values(["store", "phone_key", "row_a", "row_b"], kind="stable")
    return pairs[PAIR_COLUMNS].reset_index(drop=True)
