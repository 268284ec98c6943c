from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "modelmarket.catalog"
    label = "catalog"
