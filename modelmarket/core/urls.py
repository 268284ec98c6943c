from django.urls import path

from modelmarket.core import views

urlpatterns = [
    path("", views.home, name="home"),
]
