from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "modelmarket.billing"
    label = "billing"
