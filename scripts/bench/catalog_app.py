"""The platform as `make run` serves it, plus one bare endpoint to compare the listings API with.

/bench/bare-listings answers the same filters as GET /api/v1/listings with one hand-made SQL query and
plain dicts: no access rules, no schemas, no ORM objects. The benchmark runs both on the same server.
"""

import gc

from flask import Blueprint, jsonify, request
from sqlalchemy import func, literal_column, select, text

from app import create_app
from app.accounts.models import Organisation
from app.auth import PUBLIC, requires
from app.catalog.market import SORTS, market_conditions
from app.catalog.models import Batch, Category, Grade, Listing, ListingPhoto, ListingSearch, Product
from app.catalog.rows import SUMMARY_COLUMNS
from app.catalog.search import query_terms
from app.db import get_session, utcnow
from app.uploads import Upload

bare = Blueprint("bench", __name__)


@bare.get("/bench/bare-listings")
@requires(PUBLIC)
def bare_listings():
    """The same 20 listings as the API, from one SQL query."""
    session = get_session()
    args = request.args
    conditions = market_conditions(
        session,
        viewer_kind=None,
        now=utcnow(),
        category=args.get("category"),
        town=args.get("town"),
        grade=args.get("grade"),
    )
    if args.get("q"):
        conditions.append(Listing.id.in_(_text_search(session, args["q"])))
    photo = (
        select(Upload.token)
        .join(ListingPhoto, ListingPhoto.upload_id == Upload.id)
        .where(ListingPhoto.listing_id == Listing.id)
        .order_by(ListingPhoto.position)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(*SUMMARY_COLUMNS, photo.label("photo_token"))
        .join(Organisation, Organisation.id == Listing.organisation_id)
        .join(Product, Product.id == Listing.product_id)
        .join(Category, Category.id == Listing.category_id)
        .join(Grade, Grade.id == Listing.grade_id)
        .outerjoin(Batch, Batch.id == Listing.batch_id)
        .where(*conditions)
        .order_by(*SORTS[args.get("sort", "newest")])
        .limit(20)
    )
    return jsonify(
        [
            {**row._asdict(), "published_at": row.published_at.isoformat()}
            for row in session.execute(query)
        ]
    )


def _text_search(session, typed: str):
    whole, prefixes = query_terms(typed)
    if session.get_bind().dialect.name == "postgresql":
        expression = " & ".join([*(f"'{t}'" for t in whole), *(f"'{w}':*" for w in prefixes)])
        return select(ListingSearch.listing_id).where(
            ListingSearch.document.op("@@")(func.to_tsquery(literal_column("'simple'"), expression))
        )
    expression = " ".join([*(f'"{t}"' for t in whole), *(f'"{w}"*' for w in prefixes)])
    return (
        select(literal_column("rowid"))
        .select_from(text("listing_search_fts"))
        .where(text("listing_search_fts MATCH :e").bindparams(e=expression))
    )


app = create_app()
app.register_blueprint(bare)
gc.freeze()  # as wsgi.py does
