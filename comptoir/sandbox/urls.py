from django.urls import path

from comptoir.sandbox import views

app_name = "sandbox"
urlpatterns = [
    path("phone/", views.phone, name="phone"),
    path("phone/thread", views.thread, name="thread"),
    path("phone/reply", views.reply, name="reply"),
    path("phone/call", views.call, name="call"),
    path("phone/pickup", views.pickup, name="pickup"),
]
