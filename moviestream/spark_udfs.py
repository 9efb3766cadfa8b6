"""Vectorised Spark wrappers around the core's Python functions (one implementation each)."""

from __future__ import annotations

import pandas as pd
from pyspark.sql.functions import pandas_udf

from moviestream.movie_key import movie_id


@pandas_udf("string")
def movie_id_udf(titles: pd.Series, years: pd.Series) -> pd.Series:
    return pd.Series(
        [
            movie_id(t, y)
            for t, y in zip(titles.where(titles.notna(), None), years.where(years.notna(), None), strict=True)
        ]
    )
