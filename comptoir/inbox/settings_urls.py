"""The inbox's settings pages, included by comptoir/inbox/urls.py under "settings/".

No app_name: the names live in the "inbox" namespace (`inbox:settings`, `inbox:teams`…).
"""

from django.urls import path

from comptoir.inbox import settings_views as views

urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("replies/", views.saved_replies, name="saved_replies"),
    path("replies/<uuid:reply_id>/", views.saved_reply_edit, name="saved_reply_edit"),
    path("replies/<uuid:reply_id>/delete", views.saved_reply_delete, name="saved_reply_delete"),
    path("auto-answers/", views.auto_answers, name="auto_answers"),
    path("auto-answers/<uuid:rule_id>/", views.auto_answer_edit, name="auto_answer_edit"),
    path("auto-answers/<uuid:rule_id>/on", views.auto_answer_toggle, name="auto_answer_toggle"),
    path("auto-answers/<uuid:rule_id>/move", views.auto_answer_move_view, name="auto_answer_move"),
    path("auto-answers/<uuid:rule_id>/delete", views.auto_answer_delete, name="auto_answer_delete"),
    path("teams/", views.teams, name="teams"),
    path("teams/<uuid:team_id>/", views.team, name="team"),
    path("teams/<uuid:team_id>/delete", views.team_delete_view, name="team_delete"),
    path("teams/<uuid:team_id>/members", views.team_member_add_view, name="team_member_add"),
    path(
        "teams/<uuid:team_id>/members/<uuid:member_id>/remove",
        views.team_member_remove_view,
        name="team_member_remove",
    ),
    path("teams/<uuid:team_id>/broadcast", views.team_broadcast_view, name="team_broadcast"),
]
