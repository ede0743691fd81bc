from django.urls import path

import comptoir.automations.views as views

app_name = "automations"
urlpatterns = [
    path("", views.rules_page, name="rules"),
    path("rules/<uuid:rule_id>/", views.rule_edit, name="rule_edit"),
    path("rules/<uuid:rule_id>/on", views.rule_toggle, name="rule_toggle"),
    path("runs/", views.runs_page, name="runs"),
    path("runs/due-now", views.run_due_now, name="run_due_now"),
    path("runs/<uuid:run_id>/send-now", views.run_send_now_view, name="run_send_now"),
]
