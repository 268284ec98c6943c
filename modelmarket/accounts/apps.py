from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "modelmarket.accounts"
    label = "accounts"

    def ready(self) -> None:
        from modelmarket.accounts.roles import roles_sync

        # Setup, not domain flow: groups must exist after every migrate and every test-database flush.
        post_migrate.connect(roles_sync, sender=self, dispatch_uid="accounts.roles_sync")
