from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "modelmarket.inference"
    label = "inference"
