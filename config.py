"""Settings, read from the environment. Every variable is listed in docs/deploy.md; no logic here."""

import os


def _flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


class Config:
    # Left empty, create_app keeps a generated key in instance/secret_key (fine for one machine only).
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    # Left empty, create_app uses the SQLite file instance/agrilink.db.
    DATABASE_URL = os.environ.get("DATABASE_URL", "")
    DATABASE_POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "10"))
    SQL_ECHO = _flag("SQL_ECHO")
    # Checkouts arriving together in a web process are written in one transaction (app/batching.py).
    GROUP_COMMIT = _flag("GROUP_COMMIT", "1")

    SESSION_COOKIE_NAME = "agrilink_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _flag("SESSION_COOKIE_SECURE")
    REMEMBER_COOKIE_SECURE = _flag("SESSION_COOKIE_SECURE")
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = int(
        os.environ.get("SESSION_LIFETIME_SECONDS", str(14 * 24 * 3600))
    )
    # Number of reverse proxies (nginx) in front of the app whose X-Forwarded-* headers we trust.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(50 * 1024 * 1024)))
    # Where uploaded photos and reports are kept; left empty, instance/uploads. With several hosts, a shared
    # volume.
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER", "")

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    WTF_CSRF_CHECK_DEFAULT = (
        False  # app.auth decides: cookie sessions are checked, bearer tokens are not
    )

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = "../translations"
    LANGUAGES = ("zh_CN", "en")

    SIGN_IN_MAX_FAILURES = int(os.environ.get("SIGN_IN_MAX_FAILURES", "5"))
    SIGN_IN_MAX_FAILURES_PER_ADDRESS = int(os.environ.get("SIGN_IN_MAX_FAILURES_PER_ADDRESS", "20"))
    SIGN_IN_WINDOW_SECONDS = int(os.environ.get("SIGN_IN_WINDOW_SECONDS", "60"))
    INVITATION_DAYS = int(os.environ.get("INVITATION_DAYS", "7"))
    # How long a process reuses an API token's holder: a token revoked in another process (or a disabled
    # account) keeps working there for at most this long.
    API_TOKEN_CACHE_SECONDS = float(os.environ.get("API_TOKEN_CACHE_SECONDS", "5"))

    API_TITLE = "AgriLink API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    # How long a process reuses the market's facet counts (per filter) and text matches (per search): a
    # count or a new listing's place in a search may be this many seconds late; listings themselves never.
    MARKET_CACHE_SECONDS = float(os.environ.get("MARKET_CACHE_SECONDS", "30"))
    # How long a process reuses the catalogue's reference data (it changes only with a migration).
    CATALOGUE_CACHE_SECONDS = float(os.environ.get("CATALOGUE_CACHE_SECONDS", "300"))

    # How long an order placed to pay later keeps its stock before it is cancelled.
    ORDER_UNPAID_MINUTES = int(os.environ.get("ORDER_UNPAID_MINUTES", "60"))

    # The largest deposit (定金) an order contract may agree, as a share of its value: the Civil Code's 20%.
    CONTRACT_DEPOSIT_CAP_PCT = int(os.environ.get("CONTRACT_DEPOSIT_CAP_PCT", "20"))
    # Live commerce: how long an unpaid live order keeps its stock, how far back a flash deal's price must
    # undercut, and how often a web process looks for new events to push to its viewers.
    LIVE_UNPAID_MINUTES = int(os.environ.get("LIVE_UNPAID_MINUTES", "10"))
    LIVE_PRICE_LOOKBACK_DAYS = int(os.environ.get("LIVE_PRICE_LOOKBACK_DAYS", "30"))
    LIVE_POLL_SECONDS = float(os.environ.get("LIVE_POLL_SECONDS", "0.25"))

    # With a key, buyers may also pay by card through Stripe and sellers get paid to Stripe Connect accounts.
    STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY", "")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    STRIPE_PUBLISHABLE_KEY = os.environ.get(
        "STRIPE_PUBLISHABLE_KEY", ""
    )  # for Stripe.js on the card page
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")


class TestConfig(Config):
    TESTING = True
    MARKET_CACHE_SECONDS = 0  # every test sees exactly what it made
    CATALOGUE_CACHE_SECONDS = 0
    API_TOKEN_CACHE_SECONDS = 0
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
    WTF_CSRF_ENABLED = True
    # The suite's sessions share one connection, so batches are written by the requesting thread (a batch
    # of one); the tests against real granian servers run the writer thread as production does.
    GROUP_COMMIT = False
