from django.urls import path

from modelmarket.accounts import views

urlpatterns = [
    path("keys/", views.api_keys, name="api_keys"),
]
