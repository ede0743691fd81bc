"""Settings for the test suite: the same as production's, with work run inline by default.

Tests that need a real worker switch Huey out of immediate mode themselves.
"""

from comptoir.config.settings import *  # noqa: F403
from comptoir.config.settings import HUEY

HUEY = {**HUEY, "immediate": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
