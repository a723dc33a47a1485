"""The data-quality panel: records that needed repair or could not be read, and duplicate phones (SPEC §9)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.frame import DUPLICATE, NINTH_DIGIT, CustomerData

REPORT_COLUMNS = ["id", "store", "name", "phone_raw", "reason"]
PAIR_COLUMNS = [
    "store", "reason",
    "id_a", "name_a", "phone_a", "phone_raw_a",
    "id_b", "name_b", "phone_b", "phone_raw_b",
]


def quality_report(data: CustomerData) -> pd.DataFrame:
    """Every customer with a data problem, one row per reason.

    Args:
        data: the customer frame, scoped to the allowed stores.

    Returns:
        ``id, store, name, phone_raw, reason``, by store then customer order.
    """
    customers = data.customers
    has_problems = customers["problems"].str.len().to_numpy() > 0
    flagged = customers.loc[has_problems, ["id", "store", "name", "phone_raw", "problems"]]
    rows = flagged.explode("problems").rename(columns={"problems": "reason"})
    rows = rows.sort_values("store", kind="stable")
    return rows[REPORT_COLUMNS].reset_index(drop=True)


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
