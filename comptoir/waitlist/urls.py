from django.urls import path

import comptoir.waitlist.views as views

app_name = "waitlist"
urlpatterns = [
    path("", views.index, name="index"),
    path("entries/new", views.entry_new, name="entry_new"),
    path("entries/<uuid:entry_id>/off", views.entry_off, name="entry_off"),
    path("openings/new", views.opening_new, name="opening_new"),
    path("openings/<uuid:opening_id>/", views.opening_page, name="opening"),
    path("openings/<uuid:opening_id>/cancel", views.opening_cancel_view, name="opening_cancel"),
]
