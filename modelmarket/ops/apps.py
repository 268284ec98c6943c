from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "modelmarket.ops"
    label = "ops"
