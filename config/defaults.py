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
# Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto/-Host (0: none trusted).
PROXY_FIX_HOPS = 0
SESSION_COOKIE_NAME = "shiori_session"
WTF_CSRF_TIME_LIMIT = None  # the session's own lifetime bounds the token
MAX_CONTENT_LENGTH = 64 * 1024

# Minutes without a request after which a logged-in patron is logged out (shared library PCs).
IDLE_TIMEOUT_MINUTES = 15
# However active, a login ends after this many hours.
SESSION_ABSOLUTE_HOURS = 8
# Login sessions are registered on the server so logout is final: in Redis when this is set
# (e.g. "redis://127.0.0.1:6379/0", needed for several instances without a shared SQL store),
# else in the preference store.
SESSION_REDIS_URL = ""

# Login attempts per client address (Flask-Limiter syntax). RATELIMIT_STORAGE_URI (e.g. redis://...) shares it.
LOGIN_RATE_LIMIT = "10 per minute"
# Failed logins per card number before that card is locked out of the portal for the rest of the window.
LOGIN_LOCKOUT = "5 per 30 minutes"
RATELIMIT_STORAGE_URI = "memory://"

# Toward the ILS: after this many consecutive failures the portal stops calling it for
# ILS_CIRCUIT_RESET_SECONDS and answers "unavailable" at once, then probes again.
ILS_CIRCUIT_THRESHOLD = 5
ILS_CIRCUIT_RESET_SECONDS = 30
# Prometheus metrics at /metrics (keep the path off the public internet at the reverse proxy).
METRICS_ENABLED = True
# Times when renewals or holds are switched off with a message: see config/maintenance.py.
MAINTENANCE_WINDOWS = []

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

# The reservation basket holds at most this many titles where the adapter does not know the library's
# hold limit (the demo does); either way, minus the holds the patron has already placed.
BASKET_MAX_TITLES = 10

# Series reserved in volume order (順番予約): the next volume's hold is placed by `flask notices run` once the
# volume before it has been picked up ("pickup") or is ready for pickup ("ready").
SERIES_ADVANCE_ON = "pickup"

# The library, as the pages name it.
# Texts may mark readings for furigana mode as {漢字|よみ}; plain text or {"ja": ..., "en": ...}.
LIBRARY_NAME = {"ja": "しおり{市立|しりつ}{図書館|としょかん}", "en": "Shiori City Library"}
LIBRARY_CONTACT = {
    "ja": "カウンターまたはお{電話|でんわ}（000-000-0000）でお{問|と}い{合|あ}わせください。",
    "en": "Please ask at the counter or call 000-000-0000.",
}
LIBRARY_HOME_URL = ""
LIBRARY_OPAC_URL = ""
# A logo shown before the name in the header: a URL, or a path under static/ (e.g. "branding/logo.png").
LIBRARY_LOGO = ""
# The header's colours, "#rrggbb". Both carry white text, so each needs a contrast of 4.5:1 with white
# (WCAG AA): start-up refuses colours that would fail it.
LIBRARY_COLOURS = {"brand": "#1f5f8b", "brand_dark": "#164766"}

# The start page a visitor sees at / (seed guide steps 1 and 2): the library's own words for what the
# portal does, as plain text or {"ja": ..., "en": ...}, with {漢字|よみ} readings for furigana mode;
# paragraphs are separated by a blank line. Empty: the portal's own wording, translated.
START_PAGE_TEXT = ""

# The library card on a phone's screen (/card): the symbology the library's cards use, "codabar"
# (NW-7, common on Japanese public-library cards), "code39" or "code128"; "" turns the page off.
CARD_BARCODE = "codabar"
# Codabar's start and stop characters (A, B, C or D), as printed on the library's own cards.
CARD_BARCODE_START = "A"
CARD_BARCODE_STOP = "A"

# Linked cards: a patron may add the cards of their family (checked once with the card's password,
# which is never kept) and see and use them from their own login. False switches linking off.
LINKED_CARDS_ENABLED = True
# The most cards one login may link.
LINKED_CARDS_MAX = 6
# Hold-ready and due-date mail for a linked card: copies to the patron who linked it, if they ask.
LINKED_CARDS_NOTICES = True

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

# --- email, notices and password reset ------------------------------------------------------------
# The portal's public address, used for every link in an email and for the calendar feed URL. Links
# are never built from the request's Host header (a forged one would otherwise put a reset link to
# another site in the patron's mailbox). Set it to the https:// address patrons use.
PUBLIC_BASE_URL = "http://127.0.0.1:5000"

# The SMTP server mail goes out through. MAIL_SSL: TLS from the first byte (port 465);
# MAIL_STARTTLS: upgrade a plain connection (port 587). MAIL_HOST = "" turns every email off.
MAIL_HOST = "localhost"
MAIL_PORT = 25
MAIL_STARTTLS = False
MAIL_SSL = False
MAIL_USERNAME = ""
MAIL_PASSWORD = ""  # better set as PORTAL_MAIL_PASSWORD in the environment; never logged
MAIL_TIMEOUT = 30  # seconds per SMTP operation; keep it well below NOTICE_LEASE_SECONDS
MAIL_FROM = "noreply@localhost"  # the sender address; the library's name is shown as the sender
MAIL_REPLY_TO = ""  # e.g. the library's own address, for patrons who answer a notice

# An emailed confirmation link for a new address stays valid this many hours.
EMAIL_CONFIRM_HOURS = 48
# Confirmation emails one patron may have sent (Flask-Limiter syntax).
EMAIL_CONFIRM_RATE_LIMIT = "5 per hour"

# Forgot password: the emailed link is valid this many minutes and works once.
RESET_LINK_MINUTES = 30
# Reset requests per client address, and per library card number.
RESET_RATE_LIMIT = "10 per hour"
RESET_CARD_RATE_LIMIT = "3 per hour"

# `flask notices run`: the due-date reminder goes this many days before a loan is due.
NOTICE_DUE_DAYS = 3
# Patrons looked up in the ILS at once (threads); bounds the load a run puts on the ILS.
NOTICE_ILS_CONCURRENCY = 4
# A notice claimed by a run that died is retried after this many seconds (on SQLite; PostgreSQL's
# row locks end with the dead run's connection, so it is retried by the next run at once).
NOTICE_LEASE_SECONDS = 600
# A notice whose sending failed this many times is given up (and logged).
NOTICE_MAX_ATTEMPTS = 5
# Ledger rows (which notice was sent) older than this many days are deleted by a run.
NOTICE_RETENTION_DAYS = 120

# --- the SIP2 and Koha adapters ---------------------------------------------------------------------
# Their settings (SIP2_*, KOHA_*) and defaults are documented beside each adapter, in
# adapters/sip2/config.py and adapters/koha/config.py; they are part of the defaults here too.
from adapters.koha.config import DEFAULTS as _KOHA_DEFAULTS  # noqa: E402
from adapters.sip2.config import DEFAULTS as _SIP2_DEFAULTS  # noqa: E402

globals().update(_SIP2_DEFAULTS)
globals().update(_KOHA_DEFAULTS)
