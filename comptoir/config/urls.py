from django.contrib import admin
from django.urls import include, path

from comptoir.api.api import api
from comptoir.channels.hooks import channel_hook

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("hooks/<uuid:channel_uuid>/<slug:action>", channel_hook, name="channel-hook"),
    path("inbox/", include("comptoir.inbox.urls")),
    path("sandbox/", include("comptoir.sandbox.urls")),
    path("", include("comptoir.web.urls")),
]
