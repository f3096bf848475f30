"""Settings for the portal. Every deploy-time value comes from the environment (see README.md).

The defaults run the demo on one machine with nothing else installed: SQLite and an on-disk Celery
broker under var/. Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY and PRODUCTION=true.
"""

from __future__ import annotations

import base64
import hashlib
import tomllib
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_rate,
    env_secret,
    env_str,
    parse_business_hours,
    parse_jit_scope,
    parse_name_map,
    parse_time_zone,
    parse_url_template,
)
from portal.mail import email_settings_from_url
from portal.security_headers import content_security_policy

# Lets generic classes such as ModelAdmin[Model] be subscripted at run time, as the type stubs say.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

with (BASE_DIR / "pyproject.toml").open("rb") as pyproject:
    PORTAL_VERSION: str = tomllib.load(pyproject)["project"]["version"]

# --- Core ---------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
PRODUCTION = env_bool("PRODUCTION", False)
if DEBUG and PRODUCTION:
    raise ImproperlyConfigured("DEBUG and PRODUCTION cannot both be on")

_secret_key = env_secret("SECRET_KEY")
if _secret_key is None:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off. "
            "The demo and test commands in README.md set what they need."
        )
    _secret_key = "insecure-development-key-only-for-debug-mode"
SECRET_KEY = _secret_key

# Where people reach the portal; links in e-mails start with it.
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "accounts.entra",
    "django_htmx",
    "django_celery_beat",
    "portal",
    "accounts",
    "deployments",
    "jit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.request_context.RequestContextMiddleware",
    "portal.security_headers.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.request_context.UserContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.outages.OutageMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.site",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        # The URL holds the database password: DATABASE_URL_FILE reads it from a file.
        env_secret("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'portal.sqlite3'}",
        # In production each gunicorn and Celery process keeps its connection (health-checked
        # before reuse) instead of opening one per request; the demo's threaded development
        # server would keep one per thread, so it opens them per request.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60 if PRODUCTION else 0, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share one SQLite file in the demo: WAL lets readers
    # proceed during a write, and IMMEDIATE transactions make writers queue instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Authentication -----------------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
SESSION_COOKIE_AGE = env_int("SESSION_LIFETIME_SECONDS", 8 * 3600, minimum=300)
# Sensitive actions (deciding a request, changing a policy) ask for a fresh sign-in past this age.
REAUTHENTICATE_AFTER_SECONDS = env_int("REAUTHENTICATE_AFTER_SECONDS", 3600, minimum=60)

ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False  # tokens go encrypted into accounts.EntraCredential instead
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10

# --- Azure and Entra ID -------------------------------------------------------------------------
# "emulator" (the default) points every Azure endpoint at the local emulator started by the demo
# and the tests; "public" at Azure's public cloud. Nothing outside this block knows the difference.

AZURE_CLOUD = env_choice("AZURE_CLOUD", "emulator", ("emulator", "public"))
if AZURE_CLOUD == "emulator":
    EMULATOR_URL = env_str("EMULATOR_URL", "https://127.0.0.1:8443").rstrip("/")
    EMULATOR_SIGNIN_URL = env_str("EMULATOR_SIGNIN_URL", "http://127.0.0.1:8080").rstrip("/")
    ENTRA_LOGIN_URL = EMULATOR_URL
    # The browser opens the sign-in page over plain HTTP on loopback, so it meets no
    # certificate warning; every server-to-server call stays on HTTPS.
    ENTRA_SIGNIN_URL = EMULATOR_SIGNIN_URL
    GRAPH_URL = EMULATOR_URL
    ARM_URL = EMULATOR_URL
    AZURE_CA_BUNDLE: str | None = env_str("AZURE_CA_BUNDLE", str(VAR_DIR / "emulator" / "ca.pem"))
    _default_client_id = "4b8abcd2-0b88-4c0a-a9e6-4134635226ce"
    _default_client_secret: str | None = "portal-emulator-secret"
    _default_publisher_tenant = "0ec098e5-b929-47d3-a4de-b2f969d0ba5b"
    _default_publisher_client_id = "b12f8d01-79b3-4b4e-853c-e2bbcd9ccb44"
    _default_publisher_client_secret: str | None = "publisher-emulator-secret"
    _default_webhook_secret: str | None = "emulator-webhook-secret"
    _default_principal_names = (
        "c245099c-5407-493f-9eeb-4b52d12f3024=Contoso Managed Services Automation"
    )
    _default_jit_scope = (
        "/subscriptions/d3abb81d-851b-4948-87e4-035350bd1eee/resourceGroups/jit-requests"
    )
    # The emulator's stand-in for the application's JIT Access blade, on its plain-HTTP port.
    _default_azure_jit_url = (
        EMULATOR_SIGNIN_URL + "/_portal/jitAccess?application={application_id_quoted}"
    )
else:
    ENTRA_LOGIN_URL = "https://login.microsoftonline.com"
    ENTRA_SIGNIN_URL = ENTRA_LOGIN_URL
    GRAPH_URL = "https://graph.microsoft.com"
    ARM_URL = "https://management.azure.com"
    AZURE_CA_BUNDLE = env_str("AZURE_CA_BUNDLE", "") or None
    _default_client_id = ""
    _default_client_secret = None
    _default_publisher_tenant = ""
    _default_publisher_client_id = ""
    _default_publisher_client_secret = None
    _default_webhook_secret = None
    _default_principal_names = ""
    _default_jit_scope = ""
    # The application's page in the Azure portal; its JIT Access blade is one click from there.
    _default_azure_jit_url = "https://portal.azure.com/#@{tenant_id}/resource{application_id}"

ENTRA_CLIENT_ID = env_str("ENTRA_CLIENT_ID", _default_client_id)
ENTRA_CLIENT_SECRET = env_secret("ENTRA_CLIENT_SECRET") or _default_client_secret
PUBLISHER_TENANT_ID = env_str("PUBLISHER_TENANT_ID", _default_publisher_tenant)
# The publisher's own app registration (a principal in its offers' authorizations) for background
# work on the publisher side; defaults to the portal's registration.
PUBLISHER_CLIENT_ID = (
    env_str("PUBLISHER_CLIENT_ID", _default_publisher_client_id) or ENTRA_CLIENT_ID
)
PUBLISHER_CLIENT_SECRET = (
    env_secret("PUBLISHER_CLIENT_SECRET") or _default_publisher_client_secret or ENTRA_CLIENT_SECRET
)
# Where the portal creates jitRequests: a resource group the publisher's people may write to
# ("/subscriptions/<id>/resourceGroups/<name>"), or "application" for the application's own
# resource group (only where `manage.py check_azure` showed that Azure accepts it).
PUBLISHER_JIT_SCOPE = parse_jit_scope(
    "PUBLISHER_JIT_SCOPE", env_str("PUBLISHER_JIT_SCOPE", _default_jit_scope)
)
# Where people are sent to decide a request in Azure (the hand-off approval channel): a URL with
# {tenant_id}, {application_id}, {application_id_quoted} or {jit_request_id_quoted} in it.
AZURE_PORTAL_JIT_URL = parse_url_template(
    "AZURE_PORTAL_JIT_URL",
    env_str("AZURE_PORTAL_JIT_URL", _default_azure_jit_url),
    ("tenant_id", "application_id", "application_id_quoted", "jit_request_id_quoted"),
)
# While a hand-off decision waits for Azure, the request is read again this often (seconds), for
# JIT_WATCH_MINUTES at most; the minute-by-minute reconciliation covers the rest.
JIT_WATCH_INTERVAL = env_int("JIT_WATCH_INTERVAL", 5, minimum=1)
JIT_WATCH_MINUTES = env_int("JIT_WATCH_MINUTES", 30, minimum=1)
# Marketplace notifications: Azure POSTs to <this path>/resource?sig=<secret>. Without a secret
# the endpoint is off.
MARKETPLACE_WEBHOOK_PATH = env_str("MARKETPLACE_WEBHOOK_PATH", "hooks/marketplace").strip("/")
MARKETPLACE_WEBHOOK_SECRET = env_secret("MARKETPLACE_WEBHOOK_SECRET") or _default_webhook_secret
# Permission X-ray: warn customers when a JIT policy allows longer elevations than this.
PERMISSIONS_MAX_JIT_HOURS = env_int("PERMISSIONS_MAX_JIT_HOURS", 8, minimum=1)
# Customers' working week, for the hint "starts outside business hours" beside a JIT request.
# One setting for every customer of this installation.
CUSTOMER_BUSINESS_HOURS = parse_business_hours(
    "CUSTOMER_BUSINESS_HOURS", env_str("CUSTOMER_BUSINESS_HOURS", "Mon-Fri 08:00-18:00")
)
CUSTOMER_TIME_ZONE = parse_time_zone("CUSTOMER_TIME_ZONE", env_str("CUSTOMER_TIME_ZONE", "UTC"))
# Hours before an approval window opens that its approvers are mailed (once per occurrence).
APPROVAL_WINDOW_NOTICE_HOURS = env_int("APPROVAL_WINDOW_NOTICE_HOURS", 24, minimum=0, maximum=168)
# Names for principals Azure shows only as object ids (e.g. the publisher's automation app):
# "objectid=Name,objectid=Name".
PERMISSIONS_PRINCIPAL_NAMES = parse_name_map(
    "PERMISSIONS_PRINCIPAL_NAMES", env_str("PERMISSIONS_PRINCIPAL_NAMES", _default_principal_names)
)
# Finished sync runs are kept this many days (each tenant's last successful one always).
SYNC_RUN_RETENTION_DAYS = env_int("SYNC_RUN_RETENTION_DAYS", 14, minimum=1)
# Marketplace notifications are kept this many days; the "new purchases" notice shows the last
# day of them (deployments.selectors.PURCHASE_NOTICE_HOURS), hence the minimum.
WEBHOOK_EVENT_RETENTION_DAYS = env_int("WEBHOOK_EVENT_RETENTION_DAYS", 90, minimum=1)
# Permission changes whose mail was sent are kept this many days (unsent ones always); the
# timeline shows the last 90 days of them (deployments.permissions.timeline.TIMELINE_DAYS).
PERMISSION_CHANGE_RETENTION_DAYS = env_int("PERMISSION_CHANGE_RETENTION_DAYS", 365, minimum=90)
# Seconds between polls of ARM long-running operations (ARM's Retry-After wins when it is sent).
ARM_POLLING_INTERVAL = env_int("ARM_POLLING_INTERVAL", 5, minimum=0)
# How many of a subscription's listings a sync sends at once (deployments/listings.py); 1 sends
# them one after another.
ARM_PARALLEL_LISTINGS = env_int("ARM_PARALLEL_LISTINGS", 3, minimum=1, maximum=3)
if AZURE_CLOUD == "public" and not (
    ENTRA_CLIENT_ID and ENTRA_CLIENT_SECRET and PUBLISHER_TENANT_ID and PUBLISHER_JIT_SCOPE
):
    raise ImproperlyConfigured(
        "AZURE_CLOUD=public needs ENTRA_CLIENT_ID, ENTRA_CLIENT_SECRET, PUBLISHER_TENANT_ID "
        "and PUBLISHER_JIT_SCOPE"
    )
ARM_SCOPE = "https://management.azure.com/user_impersonation"
# The demo command starts the emulator as one of its processes when it is the target.
DEMO_RUNS_EMULATOR = AZURE_CLOUD == "emulator"

SOCIALACCOUNT_PROVIDERS = {
    "entra": {
        "SCOPE": ["openid", "profile", "offline_access", "User.Read"],
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "client_id": ENTRA_CLIENT_ID,
                "secret": ENTRA_CLIENT_SECRET or "",
                "settings": {"tenant": "organizations"},
            }
        ],
    }
}

_encryption_keys = [
    key.strip() for key in (env_secret("TOKEN_ENCRYPTION_KEYS") or "").split(",") if key.strip()
]
if not _encryption_keys:
    # Derived from SECRET_KEY so the demo needs nothing; production should set its own keys.
    _derived = hashlib.sha256(b"portal-token-encryption:" + SECRET_KEY.encode()).digest()
    _encryption_keys = [base64.urlsafe_b64encode(_derived).decode()]
for _key in _encryption_keys:
    try:
        if len(base64.urlsafe_b64decode(_key.encode())) != 32:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(
            "TOKEN_ENCRYPTION_KEYS must be comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes each)"
        ) from None
TOKEN_ENCRYPTION_KEYS = _encryption_keys

# --- Static files, time, language ---------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Celery -------------------------------------------------------------------------------------

CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL") or "filesystem://localhost/"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _processed_dir = VAR_DIR / "celery" / "processed"
    _control_dir = VAR_DIR / "celery" / "control"
    for _folder in (_queue_dir, _processed_dir, _control_dir):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
    }
    _default_results = f"file://{VAR_DIR / 'celery' / 'results'}"
    (VAR_DIR / "celery" / "results").mkdir(parents=True, exist_ok=True)
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    _default_results = CELERY_BROKER_URL
else:
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL must be filesystem:// (the default) or a redis:// URL, "
        f"got a URL starting with {CELERY_BROKER_URL.split(':', 1)[0]!r}"
    )
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", _default_results)

# Short-lived caches (e.g. a person's effective rights) are shared through Redis when there is
# one, so every web process sees the same copy.
_cache_url = env_str(
    "CACHE_URL", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "locmem://"
)
CACHES = {
    "default": (
        {"BACKEND": "portal.redis_cache.ReusingRedisCache", "LOCATION": _cache_url}
        if _cache_url.startswith(("redis://", "rediss://"))
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
CELERY_RESULT_EXPIRES = 3600
# Tasks record their outcome in the database (sync runs, outbox operations), never in the result
# backend; only `portal.ping` keeps a result, for the health check that waits on it. Storing a
# result costs the worker a write per task, and with Redis the sender a subscription per task.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers and beat log through LOGGING above (and its redaction), not a handler of their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "portal")
CELERY_TASK_TIME_LIMIT = 300
# A web request that queues a task waits a few seconds at most for an unreachable broker, then
# carries on (portal/queueing.py): the saved change is queued again by a sweep.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- E-mail -------------------------------------------------------------------------------------

_email = email_settings_from_url(
    env_secret("EMAIL_URL") or f"file://{VAR_DIR / 'mail'}", var_dir=VAR_DIR
)
EMAIL_BACKEND = _email.backend
EMAIL_FILE_PATH = _email.file_path
EMAIL_HOST = _email.host
EMAIL_PORT = _email.port
EMAIL_HOST_USER = _email.user
EMAIL_HOST_PASSWORD = _email.password
EMAIL_USE_TLS = _email.use_tls
EMAIL_USE_SSL = _email.use_ssl
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Managed Apps Portal <portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security -----------------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = content_security_policy(ENTRA_SIGNIN_URL)
# Abuse limits (portal/rate_limits.py), per client address or per signed-in person.
RATE_LIMITS = {
    "sign_in": env_rate("RATE_LIMIT_SIGN_IN", "20/m"),
    "actions": env_rate("RATE_LIMIT_ACTIONS", "30/m"),
    "webhook": env_rate("RATE_LIMIT_WEBHOOK", "6000/m"),
    # Wrong webhook secrets from one address; past this, that address is refused for the window.
    "webhook_bad_secret": env_rate("RATE_LIMIT_WEBHOOK_BAD_SECRET", "10/m"),
}
RATE_LIMIT_TRUST_FORWARDED_FOR = env_bool("RATE_LIMIT_TRUST_FORWARDED_FOR", False)
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Load balancers and container health checks ask over plain HTTP, past the TLS proxy.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    if env_bool("BEHIND_TLS_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging ------------------------------------------------------------------------------------

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
# "json": one JSON object per line, for a log collector (production's default); "console":
# readable lines (the demo's and the tests'). Both pass portal.log_redaction, and both carry
# the request id, person, tenant and task of portal/log_context.py.
LOG_FORMAT = env_choice("LOG_FORMAT", "json" if PRODUCTION else "console", ("json", "console"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "portal.log_context.ContextFilter"}},
    "formatters": {
        # Every line passes portal.log_redaction: no secret, token or code reaches a log.
        "console": {
            "()": "portal.log_context.ConsoleFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {
            "()": "portal.log_context.JsonLineFormatter",
            "format": "%(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Azure SDK HTTP logging would print request headers; keep it quiet.
        "azure": {"level": "WARNING"},
        # Django's own loggers (runserver's request lines included) through the redacting
        # handler instead of the unformatted ones Django adds by default.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- Metrics ------------------------------------------------------------------------------------

# GET /metrics answers Prometheus with `Authorization: Bearer <METRICS_TOKEN>`; unset, it is off
# (404).
METRICS_TOKEN = env_secret("METRICS_TOKEN")
# A directory every web and worker process of one host writes its samples to
# (prometheus_client's multiprocess mode, which reads the same variable); emptied at start-up.
# Unset: each process keeps its own (the demo, the tests).
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")
