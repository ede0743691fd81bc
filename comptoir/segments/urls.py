"""The segment pages, under /segments/ (`segments:list`, `:new`, `:edit`, `:delete`, `:preview`)."""

from django.urls import path

from comptoir.segments import views

app_name = "segments"
urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new/", views.segment_new, name="new"),
    path("preview/", views.segment_preview, name="preview"),
    path("<uuid:segment_id>/", views.segment_edit, name="edit"),
    path("<uuid:segment_id>/delete/", views.segment_remove, name="delete"),
]
