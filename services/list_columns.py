"""The interest columns of a campaign list, vectorised: products in display order, matches, brands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.frame import CustomerData
from services.text_arrays import join_runs, large, strings, take
from services.wording import LAST_SEPARATOR, SEPARATOR

# Rows × brands cells counted at once: bounds memory with a large Products table. Small
# blocks stay in cache: at 100,000 customers 250,000 cells take 150 ms and 55 MB, 4,000,000 600 ms and 110 MB.
_BRAND_BLOCK_CELLS = 250_000


def products(data: CustomerData) -> pd.DataFrame:
    """The frame's products, one row per key: the rows a ``pid`` of this module points at."""
    return data.derived("list_columns.items", _items_of)[0]


def display_order(data: CustomerData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every customer's products in the order a list shows them: ``(cid, pid, from_recent)``.

    Customers in frame order; for each, the items of ``interests`` newest first (the most
    recent of all), then the other items of the history newest first. A product in both
    lists shows once, through ``interests``. Computed once per frame.
    """
    return data.derived("list_columns.display", _display_of)


def brands(data: CustomerData) -> tuple[pa.Array, pa.Array]:
    """Per customer, in frame order: every brand of the history, most frequent first, ties by
    the most recent item; and the first three as a Portuguese list ("A, B e C").

    Computed once per frame: a customer's brands depend on that customer alone.
    """
    return data.derived("list_columns.brands", _brands_of)


def _item_arrays(items: pd.DataFrame, products: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``cid``, ``pos`` and the product row (-1 when unknown) of every item of a long table."""
    keys = items["key"]
    if not isinstance(keys.dtype, pd.CategoricalDtype):
        keys = keys.astype("category")
    to_product = products.index.get_indexer(keys.cat.categories)
    codes = keys.cat.codes.to_numpy()
    # Code -1 (a missing key) reads the appended -1.
    # int32: millions of items at half the memory (a catalog never holds 2**31 products).
    pid = np.append(to_product, -1).astype(np.int32)[codes]
    return items["cid"].to_numpy(np.int64), items["pos"].to_numpy(np.int64), pid


def _items_of(data: CustomerData) -> tuple[pd.DataFrame, tuple, tuple]:
    """The products (one row per key) and the ``_item_arrays`` of both long tables."""
    products = data.products
    if not products.index.is_unique:
        products = products[~products.index.duplicated()]
    return (products, _item_arrays(data.recent_items, products),
            _item_arrays(data.history_items, products))


def _history_in_recent(data: CustomerData) -> np.ndarray:
    """Per history item: whether the same product is also in the customer's ``interests``."""
    _, (r_cid, _, r_pid), (h_cid, _, h_pid) = data.derived("list_columns.items", _items_of)
    width = int(max(r_pid.max(initial=0), h_pid.max(initial=0))) + 2
    return pd.Index(h_cid * width + h_pid).isin(r_cid * width + r_pid)


def _brands_of(data: CustomerData) -> tuple[pa.Array, pa.Array]:
    """``_brands`` of every customer, in frame order: a row's brands depend on it alone."""
    products, recent, history = data.derived("list_columns.items", _items_of)
    n = len(data.customers)
    return _brands(history, recent, products["brand"], np.arange(n), n)


def _ranked_brands(
    history: tuple[np.ndarray, np.ndarray, np.ndarray],
    recent: tuple[np.ndarray, np.ndarray, np.ndarray],
    codes: np.ndarray,
    brands: int,
    row_of: np.ndarray,
    m: int,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """The brand codes of every row, ranked (``_brands``' order), row after row; how many each
    row holds; and the codes present. ``(None, …)`` when no row has a branded item."""
    # int32 throughout: millions of items at half the memory (no base holds 2**31 of anything).
    codes = np.append(codes, -1).astype(np.int32)
    row_of = row_of.astype(np.int32)
    h_rows, h_brand, h_pos = _by_row(*history, row_of, codes)
    if len(h_rows) == 0:
        return None, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    r_rows, r_brand, r_pos = _by_row(*recent, row_of, codes)

    # Only the brands these rows hold, densely: a (rows × brands) table, in blocks
    # of rows so a base with a large Products table stays within memory.
    present = np.flatnonzero(np.bincount(h_brand, minlength=brands))
    dense = np.full(brands, -1, dtype=np.int32)
    dense[present] = np.arange(len(present))
    h_brand, r_brand = dense[h_brand], dense[r_brand]
    width = len(present)
    depth_cap = int(h_pos.max()) + 2
    recent_cap = int(r_pos.max()) + 2 if len(r_pos) else 1

    block = max(1, _BRAND_BLOCK_CELLS // width)
    ordered_brands, lengths = [], []
    for lo in range(0, m, block):
        hi = min(m, lo + block)
        size = hi - lo
        # Items come by row: a block's are one slice (no pass over every item per block).
        h_sel = slice(*np.searchsorted(h_rows, [lo, hi]))
        r_sel = slice(*np.searchsorted(r_rows, [lo, hi]))
        h_cell = (h_rows[h_sel] - lo).astype(np.int64) * width + h_brand[h_sel]
        r_cell = (r_rows[r_sel] - lo).astype(np.int64) * width + r_brand[r_sel]
        last_history = np.full(size * width, -1, dtype=np.int64)
        np.maximum.at(last_history, h_cell, h_pos[h_sel])
        last_recent = np.full(size * width, -1, dtype=np.int64)
        np.maximum.at(last_recent, r_cell, r_pos[r_sel])
        # Most frequent; then an item in `interests` beats one that is not, and the
        # later place wins in either list. A brand the row lacks ranks 0.
        rank = np.bincount(h_cell, minlength=size * width) * recent_cap
        rank += last_recent + 1
        rank *= depth_cap
        rank += last_history + 1
        rank = rank.reshape(size, width)
        # Ranks of held brands are distinct (each item has its own place), so any sort will do.
        order = np.argsort(-rank, axis=1).astype(np.int32)
        held = np.count_nonzero(rank, axis=1)
        ordered_brands.append(order[np.arange(width)[None, :] < held[:, None]])
        lengths.append(held)
    return np.concatenate(ordered_brands), np.concatenate(lengths), present


def _by_row(
    cid: np.ndarray, pos: np.ndarray, pid: np.ndarray, row_of: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, brand code, place) of the items of a long table whose customer is a row and whose
    product has a brand, ordered by row (stably: within a row, as given)."""
    rows, brand = row_of[cid], codes[pid]
    keep = (rows >= 0) & (brand >= 0)
    rows, brand, pos = rows[keep], brand[keep], pos[keep].astype(np.int32)
    if len(rows) > 1 and not (rows[1:] >= rows[:-1]).all():
        order = np.argsort(rows, kind="stable")
        rows, brand, pos = rows[order], brand[order], pos[order]
    return rows, brand, pos


def _join_pt(first: pa.Array, second: pa.Array, third: pa.Array) -> pa.Array:
    """Up to three names per row as a Portuguese list: ``wording.join_pt``, vectorised."""
    def present(a: pa.Array) -> pa.Array:
        return pc.if_else(pc.equal(a, ""), None, a)

    a, b, c = present(first), present(second), present(third)
    two = pc.binary_join_element_wise(a, b, large(LAST_SEPARATOR))
    three = pc.binary_join_element_wise(
        pc.binary_join_element_wise(a, b, large(SEPARATOR)), c, large(LAST_SEPARATOR))
    return pc.coalesce(three, two, first)


def _display_of(data: CustomerData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``display_order``, computed."""
    _, (r_cid, r_pos, r_pid), (h_cid, h_pos, h_pid) = data.derived("list_columns.items", _items_of)
    others = ~data.derived("list_columns.history_in_recent", _history_in_recent)
    r_cid, r_pid = _grouped(r_cid, r_pos, r_pid)
    h_cid, h_pid = _grouped(h_cid[others], h_pos[others], h_pid[others])
    n = len(data.customers)
    # Each customer's entries are contiguous and oldest first: place them newest first,
    # `interests` before the history, without sorting.
    r_count = np.bincount(r_cid, minlength=n)
    h_count = np.bincount(h_cid, minlength=n)
    total = r_count + h_count
    start = np.cumsum(total) - total
    at_r = start[r_cid] + r_count[r_cid] - 1 - (np.arange(len(r_cid)) - (np.cumsum(r_count) - r_count)[r_cid])
    at_h = (start[h_cid] + r_count[h_cid] + h_count[h_cid] - 1
            - (np.arange(len(h_cid)) - (np.cumsum(h_count) - h_count)[h_cid]))
    # int32: millions of items at half the memory (2**31 customers or products is out of reach).
    cid = np.empty(int(total.sum()), dtype=np.int32)
    pid = np.empty_like(cid)
    from_recent = np.zeros(len(cid), dtype=bool)
    cid[at_r], pid[at_r], from_recent[at_r] = r_cid, r_pid, True
    cid[at_h], pid[at_h] = h_cid, h_pid
    return cid, pid, from_recent


def _grouped(cid: np.ndarray, pos: np.ndarray, pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cid`` and ``pid`` by customer then place (the long tables come sorted: ``frame.build``)."""
    if len(cid) > 1:
        span = int(pos.max()) + 1
        key = cid * span + pos
        if not (key[1:] > key[:-1]).all():
            order = np.argsort(key, kind="stable")
            cid, pid = cid[order], pid[order]
    return cid, pid


def matched_rows(row: np.ndarray, pid: np.ndarray, m: int, titles: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Per row of a list: the matching products, most recent first, and the product row of the first.

    Args:
        row: the list row of each matching entry, ascending (entries grouped by row, each
            row's in display order: most recent first).
        pid: the product row (of ``products``) of each entry.
        m: the number of rows.
        titles: the title of each product row.

    Returns:
        ``(matched, top)`` as ``matched`` gives them.
    """
    by_row = np.bincount(row, minlength=m)
    joined = join_runs(by_row, titles.take(pa.array(pid, type=pa.int64())), SEPARATOR)
    top = np.full(m, -1, dtype=np.int64)
    has = by_row > 0
    top[has] = pid[(np.cumsum(by_row) - by_row)[has]]
    return joined, top


def _brands(
    history: tuple[np.ndarray, np.ndarray, np.ndarray],
    recent: tuple[np.ndarray, np.ndarray, np.ndarray],
    product_brands: pd.Series,
    row_of: np.ndarray,
    m: int,
) -> tuple[pa.Array, pa.Array]:
    """Per row: every brand of the history, most frequent first, ties by the most
    recent item; and the first three as a Portuguese list ("A, B e C")."""
    codes, names = pd.factorize(product_brands)
    if m == 0:
        empty = strings([""] * m)
        return empty, empty
    # The items' arrays live only while the brands are ranked, not beside the texts built next.
    brand_rows, held, present = _ranked_brands(history, recent, codes, len(names), row_of, m)
    if brand_rows is None:
        empty = strings([""] * m)
        return empty, empty
    labels = strings(pd.Series(np.asarray(names, dtype=object)[present], dtype=object))
    joined = join_runs(held, labels.take(pa.array(brand_rows)), SEPARATOR)

    starts = np.cumsum(held) - held
    firsts = []
    for k in range(3):
        index = np.where(held > k, starts + k, -1)
        safe = np.where(index >= 0, index, 0)
        pick = np.where(index >= 0, brand_rows[safe] if len(brand_rows) else 0, -1)
        firsts.append(take(labels, pick))
    return joined, _join_pt(*firsts)
