"""What exchange staff do: work alerts (acknowledge, assign, escalate, annotate, close), group them into
cases, halt and resume instruments and auctions, force-cancel orders, propose and decide suspensions, and
set the rules' thresholds. Every step writes its audit entry in the same transaction."""

import math
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import Membership, Organisation
from app.auth import OrgKind, Role
from app.db import utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.exchange import auctions, instruments, members, trading
from app.surveillance import audit
from app.surveillance.models import Alert, AlertNote, AlertStatus, Case, CaseNote, Threshold
from app.surveillance.rules import DEFAULTS


def _alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True, populate_existing=True)
    if alert is None:
        raise NotFound(_("No such alert."))
    return alert


def _changed(
    session, alert: Alert, actor_id: int, action: str, now: datetime, reason: str = "", **detail
):
    _log(session, actor_id, action, f"alert:{alert.id}", reason, now, detail=detail)
    events.record(
        session,
        "surveillance.alert_changed",
        actor_id=actor_id,
        subject="surveillance",
        payload={"alert_id": alert.id, "status": alert.status.value, "action": action},
        now=now,
    )


def acknowledge(
    session: Session, *, actor_id: int, alert_id: int, now: datetime | None = None
) -> Alert:
    """An officer has seen the alert and is on it (it is assigned to them unless it has someone)."""
    now = now or utcnow()
    alert = _open_alert(session, alert_id)
    if alert.status != AlertStatus.escalated:  # an escalated alert stays with the supervisors
        alert.status = AlertStatus.acknowledged
    alert.assignee_id = alert.assignee_id or actor_id
    _changed(session, alert, actor_id, "alert.acknowledged", now)
    return alert


def assign(session: Session, *, actor_id: int, alert_id: int, assignee_id: int, now=None) -> Alert:
    """Give the alert to a colleague."""
    now = now or utcnow()
    if assignee_id not in staff_ids(session):
        raise RuleViolation(
            _("Assign alerts to the exchange's officers and supervisors."), field="assignee_id"
        )
    alert = _open_alert(session, alert_id)
    alert.assignee_id = assignee_id
    _changed(session, alert, actor_id, "alert.assigned", now, assignee_id=assignee_id)
    return alert


def escalate(session: Session, *, actor_id: int, alert_id: int, reason: str, now=None) -> Alert:
    """Hand the alert to the supervisors, saying why."""
    now = now or utcnow()
    alert = _open_alert(session, alert_id)
    alert.status = AlertStatus.escalated
    _changed(session, alert, actor_id, "alert.escalated", now, reason=reason)
    return alert


def annotate(session: Session, *, actor_id: int, alert_id: int, text: str, now=None) -> AlertNote:
    """Write down what was found."""
    now = now or utcnow()
    alert = _alert(session, alert_id)
    note = AlertNote(alert_id=alert.id, author_id=actor_id, text=text, written_at=now)
    session.add(note)
    _changed(session, alert, actor_id, "alert.annotated", now, text=text)
    return note


def close(session: Session, *, actor_id: int, alert_id: int, resolution: str, now=None) -> Alert:
    """Close the alert with what was concluded (a false positive, acted on, referred to a case)."""
    now = now or utcnow()
    alert = _open_alert(session, alert_id)
    alert.status, alert.closed_at, alert.resolution = AlertStatus.closed, now, resolution
    _changed(session, alert, actor_id, "alert.closed", now, reason=resolution)
    return alert


def _open_alert(session: Session, alert_id: int) -> Alert:
    """The alert, locked, refused if it is closed already."""
    alert = _alert(session, alert_id)
    if alert.status == AlertStatus.closed:
        raise Conflict(_("This alert is closed."), field="alert_id")
    return alert


def open_case(
    session: Session, *, actor_id: int, title: str, alert_ids: list[int], now=None
) -> Case:
    """Open an investigation grouping alerts."""
    now = now or utcnow()
    case = Case(title=title, opened_by_id=actor_id, opened_at=now)
    session.add(case)
    session.flush()  # the alerts and the audit entry name the case
    for alert_id in alert_ids:
        add_to_case(session, actor_id=actor_id, case_id=case.id, alert_id=alert_id, now=now)
    audit.record(
        session,
        actor_id=actor_id,
        action="case.opened",
        subject=f"case:{case.id}",
        detail={"title": title},
        now=now,
    )
    return case


def add_to_case(session: Session, *, actor_id: int, case_id: int, alert_id: int, now=None) -> Alert:
    now = now or utcnow()
    alert = _alert(session, alert_id)
    alert.case_id = case_id
    _changed(session, alert, actor_id, "alert.added_to_case", now, case_id=case_id)
    return alert


def note_case(
    session: Session,
    *,
    actor_id: int,
    case_id: int,
    text: str,
    upload_id: int | None = None,
    now=None,
) -> CaseNote:
    """A note (and a file: a statement, a screenshot, a bank record) on a case."""
    now = now or utcnow()
    if session.get(Case, case_id) is None:
        raise NotFound(_("No such case."))
    if not text and upload_id is None:
        raise RuleViolation(_("Write a note or attach a file."), field="text")
    note = CaseNote(
        case_id=case_id, author_id=actor_id, text=text, upload_id=upload_id, written_at=now
    )
    session.add(note)
    audit.record(
        session,
        actor_id=actor_id,
        action="case.noted",
        subject=f"case:{case_id}",
        detail={"text": text, "upload_id": upload_id},
        now=now,
    )
    return note


def set_thresholds(
    session: Session, *, actor_id: int, rule: str, values: dict[str, float], now=None
) -> Threshold:
    """A supervisor sets a rule's thresholds (only the rule's own settings, none below zero)."""
    now = now or utcnow()
    if rule not in DEFAULTS:
        raise NotFound(_("No such rule."))
    unknown = set(values) - set(DEFAULTS[rule])
    if unknown or not all(math.isfinite(value) and value > 0 for value in values.values()):
        raise RuleViolation(
            _("Set this rule's own thresholds, each a number above zero."), field="values"
        )
    found = session.get(Threshold, rule)
    before = found.values if found else DEFAULTS[rule]
    merged = {**DEFAULTS[rule], **(found.values if found else {}), **values}
    if found is None:
        found = Threshold(rule=rule, values=merged, updated_by_id=actor_id, updated_at=now)
        session.add(found)
    else:
        found.values, found.updated_by_id, found.updated_at = merged, actor_id, now
    audit.record(
        session,
        actor_id=actor_id,
        action="thresholds.set",
        subject=f"rule:{rule}",
        detail={"before": before, "after": merged},
        now=now,
    )
    return found


# --- actions on the market ------------------------------------------------------------------------------


def open_instrument(session: Session, *, actor_id: int, now=None, **rules):
    """Open an instrument for trading with its rules (exchange staff)."""
    instrument = instruments.create_instrument(session, actor_id=actor_id, **rules)
    audit.record(
        session,
        actor_id=actor_id,
        action="instrument.opened",
        subject=f"instrument:{instrument.id}",
        detail={key: str(value) for key, value in rules.items()},
        now=now,
    )
    return instrument


def close_exchange_day(session: Session, *, actor_id: int, day, name: str, now=None):
    """Close the exchange on a coming day: no instrument trades on it (exchange staff)."""
    closed = instruments.close_day(session, actor_id=actor_id, day=day, name=name, now=now)
    _log(session, actor_id, "exchange.day_closed", f"day:{day.isoformat()}", name, now)
    return closed


def reopen_exchange_day(session: Session, *, actor_id: int, day, reason: str, now=None):
    """Let a closed coming day trade after all (exchange staff)."""
    _say_why(reason)
    closed = instruments.reopen_day(session, day=day, now=now)
    _log(session, actor_id, "exchange.day_reopened", f"day:{day.isoformat()}", reason, now)
    return closed


def halt_instrument(
    session: Session, *, actor_id: int, symbol: str, halted: bool, reason: str, now=None
):
    """Halt (or resume) an instrument: new orders, takes and bids are refused at once on every worker."""
    _say_why(reason)
    instrument = instruments.set_halt(
        session, actor_id=actor_id, symbol=symbol, halted=halted, reason=reason
    )
    _log(
        session,
        actor_id,
        "instrument.halted" if halted else "instrument.resumed",
        f"instrument:{instrument.id}",
        reason,
        now,
        detail={"symbol": instrument.symbol},
    )
    return instrument


def halt_auction(
    session: Session, *, actor_id: int, auction_id: int, halted: bool, reason: str, now=None
):
    """Halt (or resume) one auction."""
    _say_why(reason)
    auction = auctions.set_auction_halt(
        session, actor_id=actor_id, auction_id=auction_id, halted=halted, reason=reason, now=now
    )
    _log(
        session,
        actor_id,
        "auction.halted" if halted else "auction.resumed",
        f"auction:{auction.id}",
        reason,
        now,
    )
    return auction


def force_cancel(session: Session, *, actor_id: int, order_id: int, reason: str, now=None):
    """Take a member's order off the book (its money or receipt is freed)."""
    _say_why(reason)
    order = trading.cancel_order(
        session, organisation_id=None, actor_id=actor_id, order_id=order_id, now=now
    )
    _log(
        session,
        actor_id,
        "order.force_cancelled",
        f"order:{order.id}",
        reason,
        now,
        detail={"member": order.organisation_id},
    )
    return order


def propose_suspension(
    session: Session, *, actor_id: int, organisation_id: int, reason: str, now=None
):
    """An officer proposes to suspend a member; a supervisor decides."""
    _say_why(reason)
    suspension = members.propose_suspension(
        session, actor_id=actor_id, organisation_id=organisation_id, reason=reason, now=now
    )
    _log(
        session,
        actor_id,
        "suspension.proposed",
        f"member:{organisation_id}",
        reason,
        now,
        detail={"suspension_id": suspension.id},
    )
    return suspension


def decide_suspension(
    session: Session, *, actor_id: int, suspension_id: int, approve: bool, note: str = "", now=None
):
    """A supervisor (not the proposer) approves or rejects a proposed suspension."""
    suspension = members.decide_suspension(
        session, actor_id=actor_id, suspension_id=suspension_id, approve=approve, note=note, now=now
    )
    cancelled = []
    if approve:  # what the member has resting on the books comes off with it
        for order_id in members.open_order_ids(session, suspension.organisation_id):
            trading.cancel_order(
                session, organisation_id=None, actor_id=actor_id, order_id=order_id, now=now
            )
            cancelled.append(order_id)
    _log(
        session,
        actor_id,
        "suspension.approved" if approve else "suspension.rejected",
        f"member:{suspension.organisation_id}",
        note,
        now,
        detail={"suspension_id": suspension.id, "orders_cancelled": cancelled},
    )
    return suspension


def lift_suspension(
    session: Session, *, actor_id: int, suspension_id: int, note: str = "", now=None
):
    suspension = members.lift_suspension(
        session, actor_id=actor_id, suspension_id=suspension_id, note=note, now=now
    )
    _log(
        session,
        actor_id,
        "suspension.lifted",
        f"member:{suspension.organisation_id}",
        note,
        now,
        detail={"suspension_id": suspension.id},
    )
    return suspension


def _say_why(reason: str) -> None:
    if not reason:
        raise RuleViolation(_("Say why."), field="reason")


def _log(session, actor_id: int, action: str, subject: str, reason: str, now, detail=None) -> None:
    """The audit entry of a staff action on the market."""
    audit.record(
        session,
        actor_id=actor_id,
        action=action,
        subject=subject,
        reason=reason,
        detail=detail,
        now=now,
    )


def staff_ids(session: Session) -> list[int]:
    """Who alerts can be assigned to: the exchange's officers and supervisors."""
    return list(
        session.scalars(
            select(Membership.user_id)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(
                Organisation.kind == OrgKind.exchange,
                Membership.role.in_([Role.officer, Role.supervisor]),
            )
        )
    )
