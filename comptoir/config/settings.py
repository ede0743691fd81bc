"""Django settings, read from the environment (see README, "Configuration")."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from comptoir.config.env import VAR_DIR, env_bool, env_list, env_str, huey_settings, secret_key

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
BASE_URL = env_str("COMPTOIR_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # serves the API docs page from local files, not a CDN
    "huey.contrib.djhuey",
    "comptoir.core",
    "comptoir.workspaces",
    "comptoir.contacts",
    "comptoir.channels",
    "comptoir.messaging",
    "comptoir.compliance",
    "comptoir.inbox",
    "comptoir.webhooks",
    "comptoir.dispatch",
    "comptoir.providers.smpp",  # binds held by the worker (started with it)
    "comptoir.sandbox",
    "comptoir.automations",
    "comptoir.alerts",
    "comptoir.surveys",
    "comptoir.waitlist",
    "comptoir.campaigns",
    "comptoir.imports",
    "comptoir.segments",
    "comptoir.api",
    "comptoir.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "comptoir.config.urls"
WSGI_APPLICATION = "comptoir.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "comptoir.web.context.workspace",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'comptoir.sqlite3'}")
# Connections are kept by each server and worker thread: opening one (and, on SQLite,
# its pragmas) costs more than a whole inbound webhook.
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while the worker writes; IMMEDIATE takes the write
        # lock at BEGIN so two writers queue on busy_timeout instead of deadlocking.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "PRAGMA foreign_keys=ON; PRAGMA cache_size=-20000;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

HUEY_URL = env_str("HUEY_URL", f"sqlite:///{VAR_DIR / 'huey.sqlite3'}")
HUEY = huey_settings(HUEY_URL, name=env_str("HUEY_NAME", "comptoir"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env_str("STATIC_ROOT", str(VAR_DIR / "static"))
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
# A full API batch (1,000 messages of 10 segments, JSON-escaped) fits; webhooks cap at 1 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

# Provider types an operator allows; remove a line to switch one off.
COMPTOIR_PROVIDERS = env_list(
    "COMPTOIR_PROVIDERS",
    [
        "comptoir.providers.sandbox.SandboxType",
        "comptoir.providers.twilio.TwilioType",
        "comptoir.providers.email.EmailType",
        "comptoir.providers.smpp.SmppType",
    ],
)
# Webhook deliveries stored together at most, when they arrive together (1: one by one).
COMPTOIR_INBOUND_BATCH = int(env_str("COMPTOIR_INBOUND_BATCH", "64"))
# Imports: the largest file accepted, and the size above which it runs in the background.
COMPTOIR_IMPORT_MAX_BYTES = int(env_str("COMPTOIR_IMPORT_MAX_BYTES", str(100 * 1024 * 1024)))
COMPTOIR_IMPORT_INLINE_BYTES = int(env_str("COMPTOIR_IMPORT_INLINE_BYTES", str(256 * 1024)))
# Days a file uploaded but not imported is kept (an imported file is deleted at once).
COMPTOIR_IMPORT_KEEP_DAYS = int(env_str("COMPTOIR_IMPORT_KEEP_DAYS", "7"))
# Campaigns' short links: the domain they are written with (BASE_URL when unset).
COMPTOIR_SHORT_URL = env_str("COMPTOIR_SHORT_URL", "")
# Longest body accepted, in SMS segments.
COMPTOIR_MAX_SEGMENTS = int(env_str("COMPTOIR_MAX_SEGMENTS", "10"))
# Dispatcher: messages claimed per batch, seconds a claim lasts, seconds before a
# `sending` message with no answer is looked at by the reaper.
COMPTOIR_DISPATCH_BATCH = int(env_str("COMPTOIR_DISPATCH_BATCH", "200"))
COMPTOIR_CLAIM_SECONDS = int(env_str("COMPTOIR_CLAIM_SECONDS", "60"))
COMPTOIR_SENDING_STALE_SECONDS = int(env_str("COMPTOIR_SENDING_STALE_SECONDS", "300"))
# Rate limits are shared through Redis when one is configured, else in the database
# (dispatch_ratebucket): either way every worker process and machine shares one budget.
COMPTOIR_RATE_LIMIT_REDIS = env_str(
    "COMPTOIR_RATE_LIMIT_REDIS", HUEY_URL if HUEY_URL.startswith("redis") else ""
)
# Failover: sends failed in a row before a channel's queue moves to its backup, and
# seconds before the failing channel is tried again.
COMPTOIR_FAILOVER_AFTER = int(env_str("COMPTOIR_FAILOVER_AFTER", "3"))
COMPTOIR_FAILOVER_COOLDOWN = float(env_str("COMPTOIR_FAILOVER_COOLDOWN", "60"))
# Key for encrypting channel secrets at rest; derived from SECRET_KEY when unset.
COMPTOIR_ENCRYPTION_KEY = env_str("COMPTOIR_ENCRYPTION_KEY", "")
# Outgoing webhooks may target private addresses (the shop's own software on its network);
# an installation hosting many shops turns this off so no one reaches its internal hosts.
COMPTOIR_WEBHOOKS_ALLOW_PRIVATE = env_bool("COMPTOIR_WEBHOOKS_ALLOW_PRIVATE", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "huey": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
    },
}
