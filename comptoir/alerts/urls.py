from django.urls import path

import comptoir.alerts.views as views

app_name = "alerts"
urlpatterns = [
    path("", views.alerts_page, name="list"),
    path("<uuid:alert_id>/close", views.alert_close_view, name="close"),
    path("rules/<uuid:rule_id>/", views.policy_edit, name="policy"),
]
