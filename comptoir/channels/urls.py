"""The channel set-up pages, under /channels/ (`channels:list`, `channels:add`, `channels:edit`)."""

from django.urls import path

from comptoir.channels import views

app_name = "channels"
urlpatterns = [
    path("", views.channel_list, name="list"),
    path("add/<slug:provider>/", views.channel_add, name="add"),
    path("<uuid:channel_id>/", views.channel_edit, name="edit"),
]
