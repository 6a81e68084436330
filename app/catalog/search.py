"""Full-text product search with ranking: PostgreSQL tsvector (GIN) or SQLite FTS5.

Title weighs most, then tags, then the description. Queries are reduced to plain word terms,
so quotes, %, backslashes or operators in what people type can never break the query; no terms
means no search. Like Algolia's default "prefixLast", only the last word is matched as a
prefix (it is the one still being typed): whole earlier words use the index's posting lists
directly, where a prefix on every word had the index scan every word that starts alike.
"""

import re

from sqlalchemy import Select, bindparam, func, literal_column, select, text

from app.catalog.models import Product
from app.extensions import db

MAX_TERMS = 8
MAX_TERM_LENGTH = 40


def search_terms(query: str | None) -> list[str]:
    """The words of a query, lower-cased and bounded (unicode letters and digits only)."""
    words = re.findall(r"[^\W_]+", (query or "")[:500].lower())
    return [w[:MAX_TERM_LENGTH] for w in words][:MAX_TERMS]


def apply_search(stmt: Select, query: str | None) -> tuple[Select, object | None]:
    """Restrict `stmt` (selecting from products) to matches of `query`.

    Returns the statement and a rank expression to order by (best first), or (stmt, None)
    when the query has no searchable words.
    """
    terms = search_terms(query)
    if not terms:
        return stmt, None
    if db.session.get_bind().dialect.name == "postgresql":
        tsquery = func.to_tsquery("simple", " & ".join([*terms[:-1], f"{terms[-1]}:*"]))
        vector = literal_column("products.search_vector")
        stmt = stmt.where(vector.op("@@")(tsquery))
        # ts_rank weighs title > tags > description like ts_rank_cd, at half the cost per match
        # (cover density adds word proximity, which short product texts hardly need).
        return stmt, func.ts_rank(vector, tsquery).desc()
    # FTS5: each term quoted (any quote inside doubled), the last one matched as a prefix.
    quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
    match = " ".join([*quoted[:-1], quoted[-1] + "*"])
    ranked = (
        select(
            literal_column("rowid").label("product_id"),
            literal_column("bm25(product_fts, 10.0, 5.0, 1.0)").label("rank"),
        )
        .select_from(text("product_fts"))
        .where(text("product_fts MATCH :fts_query").bindparams(bindparam("fts_query", match)))
        .subquery("fts")
    )
    stmt = stmt.join(ranked, ranked.c.product_id == Product.id)
    return stmt, ranked.c.rank.asc()
