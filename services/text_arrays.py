"""Arrow string arrays: the vectorised text of campaign lists, messages and exports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def strings(values: object) -> pa.Array:
    """Strings as one arrow array (``large_string``), missing values as ``""``.

    Example: ``strings(["a", None]).to_pylist() == ["a", ""]``.
    """
    array = pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    return array.fill_null("")


def large(value: str) -> pa.Scalar:
    """One string as an arrow scalar of the type ``strings`` gives, for element-wise joins."""
    return pa.scalar(value, pa.large_string())


def as_column(values: pa.Array) -> pd.Series:
    """An arrow string array as a pandas text column."""
    return pd.Series(values, dtype="str")


def take(values: pa.Array, index: np.ndarray) -> pa.Array:
    """``values[index]`` with ``""`` where the index is -1."""
    return values.take(pa.array(index, mask=index < 0)).fill_null("")


def join_runs(lengths: np.ndarray, values: pa.Array, sep: str) -> pa.Array:
    """``values`` cut into consecutive runs of ``lengths`` and each run joined with ``sep``.

    Example: ``join_runs([2, 0, 1], strings(["a", "b", "c"]), ", ")`` → ``["a, b", "", "c"]``.
    """
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pc.binary_join(pa.LargeListArray.from_arrays(pa.array(offsets), values), large(sep))
