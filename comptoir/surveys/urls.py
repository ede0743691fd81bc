from django.urls import path

import comptoir.surveys.views as views

app_name = "surveys"
urlpatterns = [
    path("", views.results_page, name="results"),
    path("rules/<uuid:rule_id>/", views.survey_edit, name="edit"),
]
