from django.urls import path

from modelmarket.usage import views

urlpatterns = [
    path("account/usage/", views.usage_dashboard, name="usage_dashboard"),
    path("creator/analytics/", views.creator_analytics, name="creator_analytics"),
]
