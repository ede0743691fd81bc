"""The privacy pages, under /privacy/ (included by comptoir/config/urls.py): `privacy:…`."""

from django.urls import path

from comptoir.compliance import views

app_name = "privacy"
urlpatterns = [
    path("", views.index, name="index"),
    path("contacts/<uuid:contact_id>/", views.contact, name="contact"),
    path("contacts/<uuid:contact_id>/consent", views.contact_consent, name="consent"),
    path("contacts/<uuid:contact_id>/export", views.contact_export_view, name="export"),
    path("contacts/<uuid:contact_id>/erase", views.contact_erase_view, name="erase"),
    path("keywords/", views.keywords, name="keywords"),
    path("keywords/<int:keyword_id>/delete", views.keyword_delete, name="keyword_delete"),
    path("policy/", views.policy, name="policy"),
    path("audit/", views.audit_log, name="audit"),
]
