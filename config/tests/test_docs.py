"""The README states facts that live elsewhere; these tests keep the two in step."""

from __future__ import annotations

import re
from pathlib import Path

from modelmarket.accounts.management.commands.load_demo import DEMO_ACCOUNTS

BASE_DIR = Path(__file__).resolve().parent.parent.parent
README = (BASE_DIR / "README.md").read_text()


def environment_variables_read_by_settings() -> set[str]:
    source = (BASE_DIR / "config" / "settings" / "base.py").read_text()
    names = set(
        re.findall(r'(?:os\.environ\.get\(|os\.environ\[|env_(?:bool|int|list)\()"([A-Z][A-Z0-9_]+)"', source)
    )
    # The OAuth providers' variables are built as f"{prefix}_CLIENT_ID" from pairs like ("google", "GOOGLE").
    for prefix in re.findall(r'\("[a-z]+", "([A-Z]+)"\)', source):
        names |= {f"{prefix}_CLIENT_ID", f"{prefix}_CLIENT_SECRET"}
    return names


def test_readme_lists_every_demo_account_with_its_password():
    for account in DEMO_ACCOUNTS:
        assert re.search(
            rf"\|\s*{account.role}\s*\|\s*{re.escape(account.email)}\s*\|\s*{account.password}\s*\|", README
        )


def test_readme_configuration_table_has_every_environment_variable_the_settings_read():
    names = environment_variables_read_by_settings()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "GITHUB_CLIENT_SECRET"} <= names
    missing = sorted(name for name in names if f"`{name}`" not in README)
    assert missing == [], f"document these in README.md's configuration table: {missing}"


def test_readme_quick_start_is_two_commands():
    quick_start = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in quick_start.strip().splitlines()]
    assert commands == ["make run", "make test"]
