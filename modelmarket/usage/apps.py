from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "modelmarket.usage"
    label = "usage"
