from django.urls import path

from modelmarket.notifications import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/<int:notification_id>/read", views.notification_read, name="notification_read"),
    path("notifications/read-all", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/settings", views.notification_settings, name="notification_settings"),
]
