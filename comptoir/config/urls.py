from django.contrib import admin
from django.urls import include, path

from comptoir.api.api import api
from comptoir.channels.hooks import channel_hook

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("hooks/<uuid:channel_uuid>/<slug:action>", channel_hook, name="channel-hook"),
    path("channels/", include("comptoir.channels.urls")),
    path("email/", include("comptoir.providers.email.urls")),
    path("imports/", include("comptoir.imports.urls")),
    path("inbox/", include("comptoir.inbox.urls")),
    path("automations/", include("comptoir.automations.urls")),
    path("alerts/", include("comptoir.alerts.urls")),
    path("surveys/", include("comptoir.surveys.urls")),
    path("waitlist/", include("comptoir.waitlist.urls")),
    path("privacy/", include("comptoir.compliance.urls")),
    path("sandbox/", include("comptoir.sandbox.urls")),
    path("segments/", include("comptoir.segments.urls")),
    path("", include("comptoir.campaigns.urls")),
    path("", include("comptoir.web.urls")),
]
