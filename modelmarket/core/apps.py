from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "modelmarket.core"
    label = "core"
