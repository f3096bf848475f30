"""Settings for the test suite: the portal's own settings with test-only conveniences."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-used-anywhere-else-0123456789")
if os.environ.get("CELERY_BROKER_URL", "filesystem://").startswith("filesystem://"):
    # Keep the tests' on-disk queue apart from a running demo's.
    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="portal-tests-"))
os.environ.setdefault("CELERY_QUEUE", "portal-tests")

from portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# The suite signs in and posts far more often than a person would; the rate-limit tests set the
# limits they exercise.
RATE_LIMITS = dict.fromkeys(RATE_LIMITS, "100000/m")  # noqa: F405

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, as in the demo, not SQLite's shared in-memory database: there concurrent writers
    # fail at once with "table is locked" instead of queueing (the race tests write from threads).
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "tests.sqlite3")}  # noqa: F405
