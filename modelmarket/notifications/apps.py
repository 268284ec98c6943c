from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "modelmarket.notifications"
    label = "notifications"
