from django.urls import include, path

from comptoir.inbox import views

app_name = "inbox"
urlpatterns = [
    path("", views.index, name="index"),
    path("list", views.conversation_list, name="list"),
    path("badge", views.badge, name="badge"),
    path("<uuid:conversation_id>/", views.conversation, name="conversation"),
    path("<uuid:conversation_id>/thread", views.conversation_thread, name="thread"),
    path("<uuid:conversation_id>/reply", views.reply, name="reply"),
    path("<uuid:conversation_id>/saved-reply", views.saved_reply, name="saved_reply"),
    path("<uuid:conversation_id>/note", views.note, name="note"),
    path("<uuid:conversation_id>/assign", views.assign, name="assign"),
    path("<uuid:conversation_id>/status", views.status, name="status"),
    path("<uuid:conversation_id>/promote", views.promote, name="promote"),
    # The settings pages (saved replies, auto-answers, teams): `inbox:settings` and the like.
    path("settings/", include("comptoir.inbox.settings_urls")),
]
