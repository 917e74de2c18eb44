"""Every setting Shiori reads, with its default. Each can be overridden in the instance file
(``instance/portal.cfg``, Python syntax) or by an environment variable with the ``PORTAL_`` prefix:
``PORTAL_ADAPTER=sip2``, ``PORTAL_SIP2_HOST=ils.example.org``. Environment values are parsed as
JSON when they can be (``PORTAL_SIP2_PORT=6001`` is an int, ``PORTAL_SIP2_TLS=true`` a bool).
"""

# Which ILS adapter serves the portal: demo, sip2, koha, or a plug-in's name.
ADAPTER = "demo"

# Flask's own. No default SECRET_KEY: `python -m config.init` writes one into the instance file.
SECRET_KEY = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False  # set True behind TLS
SESSION_COOKIE_NAME = "shiori_session"
WTF_CSRF_TIME_LIMIT = None  # the session's own lifetime bounds the token
MAX_CONTENT_LENGTH = 64 * 1024

# Minutes without a request after which a logged-in patron is logged out (shared library PCs).
IDLE_TIMEOUT_MINUTES = 15

# Login attempts per client address (Flask-Limiter syntax). RATELIMIT_STORAGE_URI (e.g. redis://...) shares it.
LOGIN_RATE_LIMIT = "10 per minute"
RATELIMIT_STORAGE_URI = "memory://"

# The local preference store: any SQLAlchemy URL; empty means a SQLite file in the instance folder.
DATABASE_URL = ""
# Apply pending migrations at start-up (single-instance deployments); else run `flask db upgrade`.
STORE_AUTO_UPGRADE = True

# Languages: the first is the default.
LANGUAGES = ["ja", "en"]
BABEL_DEFAULT_LOCALE = "ja"
BABEL_DEFAULT_TIMEZONE = "Asia/Tokyo"

# Password policy, shown beside the field and enforced on the server (the seed guide's ★ rules).
PASSWORD_MIN_LENGTH = 8
PASSWORD_REQUIRE_LETTER = True
PASSWORD_REQUIRE_DIGIT = True

# A loan is "due soon" this many days before its due date.
DUE_SOON_DAYS = 3

# Catalogue search page size.
SEARCH_PAGE_SIZE = 20

# The library, as the pages name it.
LIBRARY_NAME = {"ja": "しおり市立図書館", "en": "Shiori City Library"}
LIBRARY_CONTACT = {
    "ja": "カウンターまたはお電話（000-000-0000）でお問い合わせください。",
    "en": "Please ask at the counter or call 000-000-0000.",
}
LIBRARY_HOME_URL = ""
LIBRARY_OPAC_URL = ""

# --- the demo ILS -------------------------------------------------------------------------------
# SQLite file of the embedded demo ILS; empty means instance/demo-ils.sqlite3.
DEMO_DATABASE = ""
DEMO_RENEWAL_WINDOW_DAYS = 7  # renewal allowed only this many days before the due date
DEMO_RENEWAL_PERIOD_DAYS = 14  # a renewal extends the loan this many days from the day of renewal
DEMO_MAX_RENEWALS = 1
DEMO_MAX_HOLDS = 10
DEMO_LOAN_PERIOD_DAYS = 14
DEMO_HOLD_SHELF_DAYS = 7  # a ready hold is kept this many days, then expires
DEMO_FINE_LIMIT = 1000  # yen owed above which renewals and holds are refused
