"""The segment pages, under /segments/ (`segments:list`, `:new`, `:edit`, `:delete`, `:preview`),
and the profiling questions (`:questions`, `:question`, `:question_send`)."""

from django.urls import path

from comptoir.segments import question_views, views

app_name = "segments"
urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new/", views.segment_new, name="new"),
    path("preview/", views.segment_preview, name="preview"),
    path("<uuid:segment_id>/", views.segment_edit, name="edit"),
    path("<uuid:segment_id>/delete/", views.segment_remove, name="delete"),
    path("questions/", question_views.question_list, name="questions"),
    path("questions/<uuid:question_id>/", question_views.question_detail, name="question"),
    path("questions/<uuid:question_id>/send/", question_views.question_send, name="question_send"),
]
