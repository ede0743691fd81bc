"""The import pages, under /imports/ (`imports:index`, `imports:job`, `imports:progress`)."""

from django.urls import path

from comptoir.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.import_index, name="index"),
    path("<uuid:job_id>/", views.import_job, name="job"),
    path("<uuid:job_id>/progress", views.import_progress, name="progress"),
    path("<uuid:job_id>/abandon", views.import_forget, name="abandon"),
]
