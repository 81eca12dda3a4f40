"""Lookout settings: one env-driven module with embedded defaults.

Nothing set → SQLite + the in-memory channel layer (one process does everything).
DATABASE_URL (PostgreSQL) and REDIS_URL (channels-redis) switch to the scale-out setup.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None or value == "" else int(value)


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value is None or value == "" else float(value)


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(envstr("LOOKOUT_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = envbool("DEBUG", False)
# The fallback key is only good for a local embedded run; any real deployment sets SECRET_KEY.
SECRET_KEY = envstr("SECRET_KEY", "lookout-insecure-local-only-key-set-SECRET_KEY-in-production")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "project",
    "cameras",
    "events",
    "realtime",
    "worker",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'lookout.sqlite3'}",
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 0),
        # Checked once per request or WebSocket database call, and only on a reused connection: the
        # WebSocket code keeps its thread's connection (realtime/database_hop.py), and a database
        # restart must not cost the next handshake.
        conn_health_checks=envbool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the API, the admin and the periodic work write side by side.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py >= 8 defaults socket_timeout to 5 s, the same as channels-redis's
                # blocking BZPOPMIN: every idle receive would time out (channels_redis#422).
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5}],
                "capacity": envint("CHANNEL_LAYER_CAPACITY", 5000),
                "expiry": 30,
                # A killed instance's hub leaves the groups this long after its last refresh (live
                # hubs re-join four times within it); the others push to its channel until then.
                "group_expiry": envint("CHANNEL_LAYER_GROUP_EXPIRY", 120),
                "prefix": envstr("CHANNEL_LAYER_PREFIX", "lookout"),
            },
        }
    }
    # Shared across server processes: handshake budgets and single-use tickets.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": envint("CHANNEL_LAYER_CAPACITY", 5000), "expiry": 30},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(DATA_DIR / "media")))
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Our own sign-in page: the admin's refuses anyone who is not staff.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header turns an anonymous request's 403 into a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "project.parsers.OrjsonParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "project.pagination.TimeCursorPagination",
    "PAGE_SIZE": envint("API_PAGE_SIZE", 50),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "project.api_errors.api_exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Lookout API",
    "DESCRIPTION": "Cameras, detections, security events, alerts and jobs of a Lookout hub.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our own static files: /api/docs/ works without a CDN (offline hubs).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # status / severity / risk_level reuse the same choice sets across components: name each once.
    "ENUM_NAME_OVERRIDES": {
        "RiskLevelEnum": "events.risk.RiskLevel",
        "AlertStatusEnum": "events.models.AlertStatus",
        "JobStatusEnum": "events.models.JobStatus",
        "JobTypeEnum": "events.models.JobType",
        "CameraStatusEnum": "cameras.models.CameraStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "project.openapi.document_error_responses",
    ],
}

# Pipeline (SPEC §3).
BATCH_WINDOW_SECONDS = envint("BATCH_WINDOW_SECONDS", 90)
BATCH_IDLE_SECONDS = envint("BATCH_IDLE_SECONDS", 30)
CAMERA_OFFLINE_SECONDS = envint("CAMERA_OFFLINE_SECONDS", 120)
SYSTEM_STATUS_INTERVAL = envfloat("SYSTEM_STATUS_INTERVAL", 5)
EVENT_ANALYZER = envstr("EVENT_ANALYZER", "events.analyzers.HeuristicAnalyzer")
# Risk points per camera for the heuristic analyzer, e.g. "backyard=15,front_door=10".
EVENT_CAMERA_WEIGHTS = {
    slug.strip(): int(points)
    for slug, _, points in (item.partition("=") for item in envlist("EVENT_CAMERA_WEIGHTS"))
}
# A failing analyzer is retried after 30 s, 60 s, …; after the last attempt the heuristic scores.
BATCH_ANALYSIS_MAX_ATTEMPTS = envint("BATCH_ANALYSIS_MAX_ATTEMPTS", 3)
BATCH_RETRY_SECONDS = envint("BATCH_RETRY_SECONDS", 30)
# A claimed batch not finished by then (its process died) is taken up again.
BATCH_CLAIM_SECONDS = envint("BATCH_CLAIM_SECONDS", 300)
LLM_BASE_URL = envstr("LLM_BASE_URL", "http://127.0.0.1:8080/v1")
LLM_MODEL = envstr("LLM_MODEL", "local")
LLM_API_KEY = envstr("LLM_API_KEY")
LLM_TIMEOUT_SECONDS = envfloat("LLM_TIMEOUT_SECONDS", 20)
DETECTION_BULK_MAX = 1000
# How far a detection's time may be from the server's clock, either way.
DETECTION_CLOCK_SKEW_SECONDS = envint("DETECTION_CLOCK_SKEW_SECONDS", 900)
DETECTION_SNAPSHOT_MAX_BYTES = envint("DETECTION_SNAPSHOT_MAX_BYTES", 5 * 1024 * 1024)

# The worker (`manage.py worker`, or inside `manage.py run`): how often each periodic task runs.
BATCH_CLOSE_INTERVAL = envfloat("BATCH_CLOSE_INTERVAL", 1)
CAMERA_WATCHDOG_INTERVAL = envfloat("CAMERA_WATCHDOG_INTERVAL", 5)
OUTBOX_PRUNE_INTERVAL = envfloat("OUTBOX_PRUNE_INTERVAL", 3600)
JOB_RUNNER_INTERVAL = envfloat("JOB_RUNNER_INTERVAL", 1)
# A running job's lease: its worker renews it every JOB_RUNNER_INTERVAL; a job whose lease lapsed
# (its worker was killed) is failed by the next worker that looks.
JOB_LEASE_SECONDS = envfloat("JOB_LEASE_SECONDS", 60)
# The demo simulator (`manage.py run --demo`, `manage.py simulate`): seconds between ticks, and its seed.
SIMULATOR_TICK_SECONDS = envfloat("SIMULATOR_TICK_SECONDS", 5)
SIMULATOR_SEED = envint("SIMULATOR_SEED", 7)

# Realtime (SPEC §4).
REALTIME_HEARTBEAT_SECONDS = envfloat("REALTIME_HEARTBEAT_SECONDS", 30)
# Scale-out: an instance's live connection counts leave the deployment's sums this long after its
# last refresh (a killed instance drops out then); a live one refreshes three times within it.
REALTIME_INSTANCE_EXPIRY_SECONDS = envfloat("REALTIME_INSTANCE_EXPIRY_SECONDS", 90)
REALTIME_HISTORY_SECONDS = envint("REALTIME_HISTORY_SECONDS", 24 * 3600)
REALTIME_CONNECT_RATE = envint("REALTIME_CONNECT_RATE", 100)
REALTIME_TICKET_SECONDS = envint("REALTIME_TICKET_SECONDS", 60)
# Bytes a client may leave unread before it is closed with 4008 (it comes back with `resume`).
REALTIME_CLIENT_BUFFER_BYTES = envint("REALTIME_CLIENT_BUFFER_BYTES", 1024 * 1024)
# How far before `since` a resume replays (live delivery from two processes may interleave).
REALTIME_RESUME_OVERLAP_SECONDS = envint("REALTIME_RESUME_OVERLAP_SECONDS", 5)
REALTIME_REPLAY_LIMIT = envint("REALTIME_REPLAY_LIMIT", 10_000)
# How long a hole in what a hub received (sequences; per-sender numbers of ephemeral messages) may
# wait for a late message (sent after a higher one by another thread or process) before it counts as lost.
REALTIME_GAP_GRACE_SECONDS = envfloat("REALTIME_GAP_GRACE_SECONDS", 5)
# A missing required payload field is a programming error: raise where it can be fixed, log in production.
REALTIME_STRICT_PAYLOADS = envbool("REALTIME_STRICT_PAYLOADS", DEBUG)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": envstr("ACCESS_LOG_LEVEL", "WARNING")}},
}
