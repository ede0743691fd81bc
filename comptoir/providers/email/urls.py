"""The customer-facing unsubscribe page: /email/unsubscribe/<token>."""

from django.urls import path

from comptoir.providers.email.views import unsubscribe

app_name = "email"

urlpatterns = [
    path("unsubscribe/<str:token>", unsubscribe, name="unsubscribe"),
]
