"""Apply Redshift SQL to PostgreSQL by rewriting sqlglot syntax trees (never regex on SQL text).

Each rewrite below removes or maps one Redshift-only construct; a Redshift construct we have no
rewrite for raises UnsupportedRedshiftConstruct naming it, rather than producing wrong SQL.
sqlglot's own transpiler maps Redshift functions it knows (DATEDIFF, DATEADD, NVL, ...).

Materialized views stay materialized: the pipeline refreshes them the same way on both
databases (moviestream/warehouse/views.py), so the refresh path runs in the local tests too. Only
the AUTO REFRESH clause, which PostgreSQL does not have, is dropped.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

# Physical-design and refresh properties: meaningful to Redshift, irrelevant to PostgreSQL's
# results.
_DROPPED_PROPERTIES = (
    exp.DistKeyProperty,
    exp.DistStyleProperty,
    exp.SortKeyProperty,
    exp.AutoRefreshProperty,
)


class UnsupportedRedshiftConstruct(ValueError):
    pass


def _rewrite(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, _DROPPED_PROPERTIES):
        return None
    if isinstance(node, exp.CurrentTimestamp) and not isinstance(node.parent, exp.AtTimeZone):
        # GETDATE()/SYSDATE are UTC without a time zone in Redshift; PostgreSQL's
        # CURRENT_TIMESTAMP is in the session's zone.
        return exp.AtTimeZone(this=node, zone=exp.Literal.string("UTC"))
    if isinstance(node, exp.ColumnConstraint) and isinstance(
        node.args.get("kind"), exp.EncodeColumnConstraint
    ):
        return None
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.VARCHAR:
        size = node.find(exp.DataTypeParam)
        if size is not None and isinstance(size.this, exp.Var) and size.this.name.upper() == "MAX":
            return exp.DataType.build("TEXT")
    return node


def redshift_to_postgres(sql_text: str) -> list[str]:
    """Translate a file of Redshift statements into PostgreSQL statements, one string each."""
    statements = []
    for tree in sqlglot.parse(sql_text, read="redshift"):
        if tree is None:
            continue
        rewritten = tree.transform(_rewrite)
        props = rewritten.args.get("properties")
        if isinstance(props, exp.Properties) and not props.expressions:
            rewritten.set("properties", None)
        for node in rewritten.walk():
            if isinstance(node, exp.Command):
                raise UnsupportedRedshiftConstruct(
                    f"no PostgreSQL rewrite for Redshift command {node.this!r}"
                )
        statements.append(rewritten.sql(dialect="postgres"))
    return statements
