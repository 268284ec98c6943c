from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "modelmarket.ops"
    label = "ops"

    def ready(self) -> None:
        from modelmarket.ops.logging import install_request_context_on_records

        install_request_context_on_records()
