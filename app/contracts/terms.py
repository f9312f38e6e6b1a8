"""A contract's terms as one JSON document: checked against the rules, hashed for signing, compared for the
diff view, and turned into a schedule of instalments.

Money is in fen, shares in basis points (1% = 100), quantities in the listing's unit.
"""

import hashlib
import json
from datetime import date, timedelta
from enum import StrEnum

from flask_babel import gettext as _

from app.errors import RuleViolation
from app.i18n import N_

DEPOSIT_CAP_BPS = 2000  # Civil Code art. 586: a deposit (定金) is at most 20% of the contract value
MAX_INSTALMENTS = 366


class PriceRule(StrEnum):
    fixed = "fixed"  # price_fen, whatever the market does
    floor_or_market = "floor_or_market"  # 保底价: the market price if higher than the floor
    market_linked = "market_linked"  # the market price ± market_adjust_bps, never below the floor


class Payment(StrEnum):
    on_acceptance = "on_acceptance"  # held from the buyer's wallet when ordered, paid on acceptance
    on_account = "on_account"  # on the buyer's credit terms, invoiced on acceptance


FIELD_LABELS = {
    "quantity": N_("Quantity"),
    "area_mu": N_("Planted area (mu)"),
    "yield_per_mu": N_("Expected yield per mu"),
    "follows_output": N_("Delivered quantity follows actual output"),
    "quality_spec": N_("Quality specification"),
    "price_rule": N_("Price rule"),
    "price_fen": N_("Price or floor price"),
    "market_adjust_bps": N_("Market price adjustment"),
    "deposit_bps": N_("Deposit (定金)"),
    "penalty_bps": N_("Penalty (违约金)"),
    "payment": N_("Payment"),
    "payment_days": N_("Payment within (days)"),
    "instalments": N_("Instalments"),
    "delivery_point": N_("Delivery point"),
    "window_start": N_("Window opens"),
    "window_end": N_("Window closes"),
    "tolerance_bps": N_("Tolerance"),
    "order_days_ahead": N_("Orders made ahead (days)"),
    "force_majeure": N_("Force majeure clause"),
    "disputes": N_("Dispute clause"),
}
PRICE_RULE_LABELS = {
    PriceRule.fixed: N_("fixed price"),
    PriceRule.floor_or_market: N_("floor price, market price if higher"),
    PriceRule.market_linked: N_("market price ± adjustment, never below the floor"),
}
PAYMENT_LABELS = {
    Payment.on_acceptance: N_("on acceptance (held from the wallet when ordered)"),
    Payment.on_account: N_("on account, within the agreed days"),
}


def weekly(first: date, last: date, quantity: int) -> list[dict]:
    """Every week on `first`'s weekday from `first` to `last`, `quantity` each."""
    if last < first:
        raise RuleViolation(_("The last delivery comes before the first."), field="weekly_last")
    days = [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    if len(days) > MAX_INSTALMENTS:
        raise RuleViolation(
            _("A contract has at most %(n)d instalments.", n=MAX_INSTALMENTS), field="weekly_last"
        )
    return [{"due_on": day.isoformat(), "quantity": quantity} for day in days]


def value_fen(terms: dict) -> int:
    """The contract value the deposit and penalty are shares of: quantity × price (or floor)."""
    return terms["quantity"] * terms["price_fen"]


def deposit_fen(terms: dict) -> int:
    return value_fen(terms) * terms["deposit_bps"] // 10_000


def penalty_fen(terms: dict) -> int:
    return value_fen(terms) * terms["penalty_bps"] // 10_000


def check(terms: dict, *, today: date, deposit_cap_bps: int = DEPOSIT_CAP_BPS) -> None:
    """Refuse terms a contract cannot have, naming the field and the rule."""
    if terms["deposit_bps"] > deposit_cap_bps:
        raise RuleViolation(
            _(
                "A deposit (定金) may be at most %(cap)s%% of the contract value (Civil Code art. "
                "586); %(asked)s%% was asked.",
                cap=percent(deposit_cap_bps),
                asked=percent(terms["deposit_bps"]),
            ),
            field="deposit_pct",
        )
    if terms["window_end"] <= terms["window_start"]:
        raise RuleViolation(_("The delivery window must end after it starts."), field="window_end")
    if terms["price_rule"] == PriceRule.fixed and terms["market_adjust_bps"]:
        raise RuleViolation(_("A fixed price has no market adjustment."), field="market_adjust_pct")
    _check_schedule(terms, today)


def _check_schedule(terms: dict, today: date) -> None:
    instalments = terms["instalments"]
    if not instalments:
        raise RuleViolation(_("Give at least one delivery."), field="instalments")
    days = [item["due_on"] for item in instalments]
    if len(set(days)) != len(days):
        raise RuleViolation(_("Two instalments fall on the same day."), field="instalments")
    if min(days) <= today.isoformat():
        raise RuleViolation(_("The first delivery must be after today."), field="instalments")
    scheduled = sum(item["quantity"] for item in instalments)
    gap = terms["quantity"] - scheduled
    if abs(gap) * 10_000 > terms["quantity"] * terms["tolerance_bps"]:
        message = _(
            "The instalments add up to %(scheduled)d; the contract is for %(quantity)d, "
            "%(gap)d %(direction)s, beyond the ±%(tolerance)s%% tolerance.",
            scheduled=scheduled,
            quantity=terms["quantity"],
            gap=abs(gap),
            direction=_("short") if gap > 0 else _("over"),
            tolerance=percent(terms["tolerance_bps"]),
        )
        raise RuleViolation(message, field="instalments")


def percent(bps: int) -> str:
    """Basis points as a percentage a person reads: 2000 -> "20", 250 -> "2.5"."""
    return f"{bps / 100:.2f}".rstrip("0").rstrip(".")


def digest(terms: dict) -> str:
    """The SHA-256 of the terms' canonical JSON: what a signature signs."""
    canonical = json.dumps(terms, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def changes(before: dict, after: dict) -> list[tuple[str, object, object]]:
    """(field, before, after) for every term that differs, in the order the terms are shown."""
    return [
        (name, before.get(name), after.get(name))
        for name in FIELD_LABELS
        if before.get(name) != after.get(name)
    ]
