"""Listing search that handles Chinese: words are cut into characters and character pairs (the way CJK
search engines index text without a dictionary), English and pinyin into words matched by prefix.

翠芽 finds 湄潭翠芽 (the pair 翠芽 is indexed); 湄潭翠芽 needs the pairs 湄潭, 潭翠 and 翠芽; 茶 matches the
character; "cuiya" and "green tea" match the product's aliases and English names. When the pairs match
nothing (湄潭翠芽 typed for a title written "湄潭 翠芽"), the characters alone are tried. Full-width letters
and digits typed on a Chinese keyboard (ｃｕｉｙａ) read as ordinary ones. Chinese terms are stored as ASCII
("u7fe0u82bd" for 翠芽) so that every database and tokenizer reads them the same way.

SQLite answers through an FTS5 table, PostgreSQL through a GIN index on the words stored as a tsvector.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from app.cache import NO_CACHE, TimedCache
from app.catalog.models import Listing, ListingSearch

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TERMS = re.compile(rf"([{_CJK}]+)|([0-9a-z]+)")
_PREFIX_FROM = 3  # shorter Latin words must match whole, or "ga" would find half the catalogue
_CACHED_IDS_AT_MOST = 50_000  # a search matching more is not kept (app.catalog.market.MarketCache)


def _encoded(characters: str) -> str:
    return "u" + "".join(f"{ord(character):05x}" for character in characters)


def document_terms(*texts: str) -> str:
    """The indexed form of a listing's words: every Chinese character and pair, every Latin word."""
    terms: dict[str, None] = {}
    for text_ in texts:
        for chinese, latin in _TERMS.findall(_normalised(text_ or "")):
            if latin:
                terms[latin] = None
                continue
            for index, character in enumerate(chinese):
                terms[_encoded(character)] = None
                if index + 1 < len(chinese):
                    terms[_encoded(chinese[index : index + 2])] = None
    return " ".join(terms)


def _normalised(text_: str) -> str:
    return unicodedata.normalize("NFKC", text_).lower()


def query_terms(query: str, *, pairs: bool = True) -> tuple[list[str], list[str]]:
    """(terms that must match whole, Latin words that must match as prefixes) for what a person typed.

    Chinese is matched by its character pairs, or with `pairs=False` by its characters one by one."""
    whole: list[str] = []
    prefixes: list[str] = []
    for chinese, latin in _TERMS.findall(_normalised(query)):
        if latin:
            (prefixes if len(latin) >= _PREFIX_FROM else whole).append(latin)
        elif len(chinese) == 1 or not pairs:
            whole.extend(_encoded(character) for character in chinese)
        else:
            whole.extend(_encoded(chinese[i : i + 2]) for i in range(len(chinese) - 1))
    return list(dict.fromkeys(whole)), list(dict.fromkeys(prefixes))


@dataclass(frozen=True)
class Matches:
    """What a typed search matched: how many listings, and two ways to keep only those in SQL."""

    count: int
    within: ColumnElement  # Listing.id in a subquery of the full-text index
    among: ColumnElement  # Listing.id among the matched ids, sent as one value (PostgreSQL only)


def text_matches(session: Session, query: str, cache: TimedCache = NO_CACHE) -> Matches | None:
    """The listings whose words match `query`; None when nothing searchable was typed."""
    whole, prefixes = query_terms(query)
    if not whole and not prefixes:
        return None
    matches = _matches(session, whole, prefixes, cache)
    if matches.count == 0:
        characters = query_terms(query, pairs=False)
        if characters != (whole, prefixes):
            return _matches(session, *characters, cache)
    return matches


def _matches(session: Session, whole: list[str], prefixes: list[str], cache: TimedCache) -> Matches:
    if session.get_bind().dialect.name == "postgresql":
        # Given the ids as one array, the planner knows how many matched and plans for it (a subquery
        # it must guess). The array is sent as its text, which PostgreSQL reads far faster than the
        # driver converts a list; popular searches reuse it for a few seconds.
        matching = _postgres_matches(whole, prefixes)
        count, ids = cache.get(
            ("text matches", *whole, "|", *prefixes),
            lambda: _as_array_text(session.scalars(matching).all()),
            keep=lambda found: found[0] <= _CACHED_IDS_AT_MOST,
        )
        return Matches(count, Listing.id.in_(matching), listing_among(ids, "matches"))
    matching = _sqlite_matches(whole, prefixes)
    count = session.scalar(select(func.count()).select_from(matching.subquery()))
    return Matches(count, Listing.id.in_(matching), Listing.id.in_(matching))


def _as_array_text(ids: Iterable[int]) -> tuple[int, str]:
    ids = list(ids)
    return len(ids), "{" + ",".join(map(str, ids)) + "}"


def listing_among(ids: Iterable[int] | str, name: str = "ids") -> ColumnElement:
    """Listing.id among these ids, sent to PostgreSQL as one array written out as text ("{1,2,3}")."""
    written = ids if isinstance(ids, str) else _as_array_text(ids)[1]
    # Untyped, the text is read as an array constant once, not converted again for every row.
    return Listing.id == func.any(cast(bindparam(name, written, type_=NullType()), ARRAY(Integer)))


def _sqlite_matches(whole: Iterable[str], prefixes: Iterable[str]):
    expression = " ".join([*(f'"{term}"' for term in whole), *(f'"{word}"*' for word in prefixes)])
    return (
        select(literal_column("rowid"))
        .select_from(text("listing_search_fts"))
        .where(text("listing_search_fts MATCH :expression").bindparams(expression=expression))
    )


def _postgres_matches(whole: Iterable[str], prefixes: Iterable[str]):
    expression = " & ".join(
        [*(f"'{term}'" for term in whole), *(f"'{word}':*" for word in prefixes)]
    )
    query = func.to_tsquery(literal_column("'simple'"), expression)
    return select(ListingSearch.listing_id).where(ListingSearch.document.op("@@")(query))
