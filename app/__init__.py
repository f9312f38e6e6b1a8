"""AgriLink (湄潭产销通): create_app() assembles the platform in small named steps."""

import logging
import secrets
from pathlib import Path
from typing import Any

import flask_smorest
from flask import Flask, g, has_request_context
from werkzeug.middleware.proxy_fix import ProxyFix

from app.errors import ErrorSchema
from config import Config

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: type = Config, overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    load_config(app, config, overrides or {})
    register_logging(app)
    register_database(app)
    register_payments(app)
    register_ledger_holdings(app)
    register_languages(app)
    register_errors(app)
    register_access(app)
    register_pages(app)
    register_api(app)
    register_cli(app)
    register_proxy(app)
    return app


def load_config(app: Flask, config: type, overrides: dict[str, Any]) -> None:
    from app.web import DayConverter, IdConverter

    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["day"] = DayConverter
    app.config.from_object(config)
    app.config.update(overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret_key(Path(app.instance_path) / "secret_key")
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'agrilink.db'}"


def _instance_secret_key(path: Path) -> str:
    """A key kept beside the SQLite file, so sessions survive restarts on one machine."""
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def register_logging(app: Flask) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    handler.addFilter(_RequestIdFilter())
    app.logger.handlers[:] = [handler]
    app_logger = logging.getLogger("app")
    app_logger.handlers[:] = [handler]
    app_logger.setLevel(app.config["LOG_LEVEL"])


def register_database(app: Flask) -> None:
    from app import db

    db.init_app(app)


def register_payments(app: Flask) -> None:
    from app.payments import stripe_gateway

    stripe_gateway.init_app(app)


def register_ledger_holdings(app: Flask) -> None:
    """What each escrow and deposit account should hold, by the domains that own them (for the ledger check)."""
    from app.contracts.queries import held_deposits
    from app.exchange.deposits import held_by_members
    from app.exchange.settlement import held_by_trades
    from app.orders.cli import held_by_orders

    app.extensions["ledger_holdings"] = [
        held_by_orders,
        held_deposits,
        held_by_members,
        held_by_trades,
    ]


def register_languages(app: Flask) -> None:
    from app import i18n

    i18n.init_app(app)


def register_errors(app: Flask) -> None:
    from app import errors

    errors.init_app(app)


def register_access(app: Flask) -> None:
    from app import auth
    from app.accounts import identity

    auth.init_app(
        app,
        load_user=identity.load_user,
        load_token_user=identity.load_token_user,
        actor_of=identity.actor_of,
    )
    auth.declare_access(app, "static", auth.PUBLIC)


def register_pages(app: Flask) -> None:
    from app import uploads
    from app.accounts import admin_views, organisation_views
    from app.accounts import views as accounts_views
    from app.cache import TimedCache
    from app.catalog import import_views, seller_views, trace_views
    from app.catalog import views as market_views
    from app.catalog.market import MarketCache
    from app.contracts import views as contracts_views
    from app.dashboards import views as dashboards_views
    from app.exchange import auction_views, receipt_views, tender_views
    from app.exchange import views as exchange_views
    from app.live import views as live_views
    from app.live.stream import Hub
    from app.logistics import views as logistics_views
    from app.orders import admin_views as money_admin_views
    from app.orders import views as orders_views
    from app.surveillance import staff_views
    from app.surveillance import views as surveillance_views
    from app.web import without

    for blueprint in (
        dashboards_views.bp,
        accounts_views.bp,
        organisation_views.bp,
        admin_views.bp,
        uploads.bp,
        market_views.bp,
        seller_views.bp,
        import_views.bp,
        trace_views.bp,
        orders_views.bp,
        money_admin_views.bp,
        contracts_views.bp,
        logistics_views.bp,
        live_views.bp,
        exchange_views.bp,
        receipt_views.bp,
        auction_views.bp,
        tender_views.bp,
        surveillance_views.bp,
        staff_views.bp,
    ):
        app.register_blueprint(blueprint)
    app.extensions["live.hub"] = Hub(app)  # each web process follows the live events once
    app.jinja_env.filters["without"] = without
    app.extensions["agrilink.market_cache"] = MarketCache.lasting(
        app.config["MARKET_CACHE_SECONDS"]
    )
    app.extensions["agrilink.catalogue"] = TimedCache(app.config["CATALOGUE_CACHE_SECONDS"])


class Api(flask_smorest.Api):
    """flask-smorest for OpenAPI and argument parsing; app.errors renders every error."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        pass


def register_api(app: Flask) -> None:
    from app import auth
    from app.accounts import api as accounts_api
    from app.catalog import api as catalog_api
    from app.contracts import api as contracts_api
    from app.exchange import api as exchange_api
    from app.exchange import venue_api as exchange_venue_api
    from app.live import api as live_api
    from app.logistics import api as logistics_api
    from app.orders import api as orders_api
    from app.surveillance import api as surveillance_api
    from app.web import DayConverter

    api = Api(
        app,
        spec_kwargs={
            "security": [{"bearerAuth": []}],
            "info": {
                "description": "AgriLink's JSON API. Send `Authorization: Bearer <token>`; get a token "
                "from POST /api/v1/auth/token or the API tokens page. Errors are "
                "`{type, message, fields, request_id}`."
            },
        },
    )
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.register_converter(DayConverter, lambda _converter: {"type": "string", "format": "date"})
    for blueprint in (
        accounts_api.blp,
        catalog_api.blp,
        orders_api.blp,
        contracts_api.blp,
        logistics_api.blp,
        live_api.blp,
        exchange_api.blp,
        exchange_venue_api.blp,
        surveillance_api.blp,
    ):
        api.register_blueprint(blueprint)
    auth.declare_access(app, "api-docs.openapi_json", auth.PUBLIC)
    app.extensions["agrilink.api"] = api


def register_cli(app: Flask) -> None:
    from app.demo.seed import seed_demo_command
    from app.exchange.cli import exchange_cli
    from app.orders.cli import ledger_cli
    from app.scheduler import jobs_cli, scheduler_cli
    from app.surveillance.cli import audit_cli, surveillance_cli

    commands = (
        seed_demo_command,
        scheduler_cli,
        jobs_cli,
        ledger_cli,
        exchange_cli,
        audit_cli,
        surveillance_cli,
    )
    for command in commands:
        app.cli.add_command(command)


def register_proxy(app: Flask) -> None:
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
