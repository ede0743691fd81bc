from django.contrib.auth import views as auth_views
from django.urls import path

from comptoir.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("messages/send", views.send, name="send"),
    path("messages/counter", views.counter, name="counter"),
    path("messages/<uuid:message_id>/", views.message_detail, name="message"),
]
