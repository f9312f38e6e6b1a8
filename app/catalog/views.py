"""The market: buyers (and anyone) browse and search listings; one listing's page."""

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _

from app.auth import PUBLIC, current_actor, requires
from app.catalog import market, queries, services
from app.catalog.catalogue import Catalogue, catalogue
from app.catalog.market import MarketCache
from app.catalog.schemas import MarketQuerySchema
from app.db import get_session, utcnow
from app.errors import NotFound
from app.i18n import N_, current_language
from app.web import query_args

bp = Blueprint("market", __name__, url_prefix="/market")


def market_cache() -> MarketCache:
    """This process's facet counts and text matches, kept MARKET_CACHE_SECONDS (set up by create_app)."""
    return current_app.extensions["agrilink.market_cache"]


def current_catalogue() -> Catalogue:
    """The catalogue's reference data, read at most every CATALOGUE_CACHE_SECONDS by this process."""
    return catalogue(get_session(), current_app.extensions["agrilink.catalogue"])


@bp.get("")
@requires(PUBLIC)
def browse():
    """Find produce: search in Chinese, pinyin or English, narrow by grade, town, certification, price."""
    filters = query_args(MarketQuerySchema())
    reference = current_catalogue()
    found = market.browse(
        get_session(),
        viewer_kind=current_actor().kind,
        now=utcnow(),
        size=20,
        cache=market_cache(),
        catalogue=reference,
        **filters,
    )
    return render_template(
        "catalog/browse.html", market=found, filters=filters, catalogue=reference
    )


@bp.get("/<int:listing_id>")
@requires(PUBLIC)
def listing(listing_id: int):
    """One listing: price per unit and per kg, stock, origin, certificates, and its batch's trace."""
    actor = current_actor()
    found = queries.listing_for(
        get_session(),
        listing_id,
        viewer_kind=actor.kind,
        viewer_organisation_id=actor.organisation_id,
    )
    if found is None:
        raise NotFound(_("This listing does not exist, or it is not offered to you."))
    own = found.organisation_id == actor.organisation_id
    return render_template(
        "catalog/listing.html", listing=found, own=own, sellable=found.is_sellable(utcnow())
    )


_LABELS = {
    "listing_event": {
        "listing.created": N_("Created"),
        "listing.updated": N_("Particulars changed"),
        "listing.published": N_("Put on sale"),
        "listing.paused": N_("Paused"),
        "listing.stock_adjusted": N_("Stock changed"),
    },
    "certification": {
        "organic": N_("organic"),
        "green_food": N_("green food"),
        "geographical_indication": N_("geographical indication"),
        "commitment_certificate": N_("compliance certificate (承诺达标合格证)"),
    },
    "listing_status": {
        "draft": N_("draft"),
        "active": N_("on sale"),
        "paused": N_("paused"),
        "sold_out": N_("sold out"),
        "expired": N_("expired"),
    },
    "input_kind": {
        "fertiliser": N_("fertiliser"),
        "pesticide": N_("pesticide"),
        "other": N_("other input"),
    },
    "test_result": {"passed": N_("passed"), "failed": N_("failed")},
    "stock_kind": {
        "listed": N_("first stock"),
        "adjusted": N_("adjusted"),
        "imported": N_("imported"),
        "ordered": N_("ordered"),
        "released": N_("returned"),
        "reserved": N_("set aside for a flash deal"),
        "unreserved": N_("back from a flash deal"),
    },
    "import_status": {
        "checking": N_("checking rows"),
        "ready": N_("ready to import"),
        "invalid": N_("has bad rows"),
        "done": N_("imported"),
        "failed": N_("failed"),
    },
}


@bp.app_template_global()
def catalog_label(group: str, value: str) -> str:
    """The person-readable name of a catalog code (a status, a certification, an input kind); a code
    without a name yet (an event a later feature records) reads as itself."""
    label = _LABELS[group].get(str(value))
    return _(label) if label else str(value)


bp.add_app_template_filter(services.per_jin, "per_jin")


@bp.app_template_global()
def unit_name(code: str) -> str:
    """A unit's name in the page's language ("250 克罐" for "tin_250g"); an unknown code reads as itself."""
    unit = next((unit for unit in current_catalogue().units if unit.code == code), None)
    return unit.name(current_language()) if unit else code


@bp.app_template_global()
def certification_label(name: str) -> str:
    return catalog_label("certification", name)


@bp.app_template_global()
def listing_status_label(status: str) -> str:
    return catalog_label("listing_status", status)


_CUSTODY_STEPS = {
    "batch.recorded": N_("Harvest recorded at %(farm)s."),
    "batch.tested": N_("Tested by %(lab)s: %(result)s."),
    "listing.published": N_("Put on sale as “%(title)s”."),
    "delivery.shipped": N_("%(quantity)s %(unit)s shipped to a buyer."),
    "delivery.accepted": N_("%(quantity)s %(unit)s accepted by the buyer at delivery."),
}
# The same steps told without the terms of a listing that is offered to other buyers only.
_PRIVATE_CUSTODY_STEPS = {"listing.published": N_("Put on sale to selected buyers.")}


@bp.app_template_global()
def custody_step(event, *, private: bool = False) -> str:
    """One line of a batch's chain of custody, in words; `private` leaves out a listing's terms."""
    template = (private and _PRIVATE_CUSTODY_STEPS.get(event.kind)) or _CUSTODY_STEPS.get(
        event.kind
    )
    if template is None:
        return event.kind
    payload = dict(event.payload)
    if "unit" in payload:
        units = {unit.code: unit for unit in current_catalogue().units}
        unit = units.get(payload["unit"])
        payload["unit"] = unit.name(current_language()) if unit else payload["unit"]
    if "result" in payload:
        payload["result"] = catalog_label("test_result", payload["result"])
    keys = ("farm", "lab", "result", "title", "quantity", "unit")
    return _(template, **{key: payload.get(key, "") for key in keys})
