"""Campaign pages under /campaigns/ (`campaigns:…`), and short links at /l/<code>."""

from django.urls import path

from comptoir.campaigns import report_views, views

app_name = "campaigns"
urlpatterns = [
    path("campaigns/", views.campaign_list, name="list"),
    path("campaigns/new/", views.campaign_new, name="new"),
    path("campaigns/measure/", views.campaign_measure, name="measure"),
    path("campaigns/<uuid:campaign_id>/", views.campaign_edit, name="edit"),
    path("campaigns/<uuid:campaign_id>/test/", views.campaign_test, name="test"),
    path("campaigns/<uuid:campaign_id>/launch/", views.campaign_launch_view, name="launch"),
    path(
        "campaigns/<uuid:campaign_id>/results/", report_views.campaign_results_view, name="results"
    ),
    path(
        "campaigns/<uuid:campaign_id>/results/live/",
        report_views.campaign_results_live,
        name="results_live",
    ),
    path("campaigns/<uuid:campaign_id>/export.csv", report_views.campaign_export, name="export"),
    path("campaigns/<uuid:campaign_id>/<slug:action>/", views.campaign_action, name="action"),
    path("l/<str:code>", report_views.link_redirect, name="link"),
]
