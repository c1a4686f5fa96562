"""How a secret is applied to the data that keeps a copy (`Secret(applied_by=…)`): declared, validated, and the
only thing that makes a secret data-bound; the backend's hook refuses a wrong call without touching anything.

The hooks themselves run against a real stack in tests/test_backup_safety.py (rotation, restore, a failing hook).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from fovea_ctl.core.secrets import SecretStore
from fovea_ctl.model import AppliedBy, ImageSpec, Secret, Service, Stack
from fovea_ctl.settings.effective import load_settings
from tests.conftest import ROOT
from tests.unit.warm_cli import run_fovea

IMAGE = ImageSpec(registry="example/image:1")
HOOK = AppliedBy(service="vault", command=["vault-apply", "token"])


def store_for(stack: Stack, root: Path) -> SecretStore:
    return SecretStore(load_settings(root=root, project="hooks"), stack)


def test_a_secret_is_data_bound_by_its_declared_hook_not_by_its_name_or_env(tmp_path: Path) -> None:
    """Before: data-bound secrets were found from env names (POSTGRES_PASSWORD_FILE, BACKEND_ADMIN_PASSWORD_FILE)."""
    stack = Stack(name="t", services=[
        Service(name="postgres", image=IMAGE, secrets=["postgres_password"],
                env={"POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password"}),
        Service(name="vault", image=IMAGE, secrets=["vault_token"]),
    ], secrets=[Secret(name="postgres_password"), Secret(name="vault_token", applied_by=HOOK)])

    assert store_for(stack, tmp_path).data_bound() == {"vault_token"}


def test_the_fovea_stack_applies_exactly_the_role_password_and_the_admin_password_through_their_owners() -> None:
    store = run_in_root_store()
    hooks = {name: store.declared[name].applied_by for name in store.data_bound()}

    assert {name: hook.service for name, hook in hooks.items() if hook} == {"postgres_password": "postgres",
                                                                           "admin_password": "backend"}
    admin = hooks["admin_password"]
    assert admin is not None and admin.command[-3:] == ["-m", "fovea_backend.apply_secret", "admin-password"]


def run_in_root_store() -> SecretStore:
    from fovea_ctl.core.context import load_stack

    settings = load_settings(root=ROOT, project="hooks")
    return SecretStore(settings, load_stack(settings))


def test_a_hook_owned_by_a_service_the_stack_does_not_declare_is_an_invalid_stack() -> None:
    with pytest.raises(ValidationError) as refused:
        Stack(name="t", services=[Service(name="postgres", image=IMAGE)],
              secrets=[Secret(name="vault_token", applied_by=HOOK)])

    assert ("secret 'vault_token', field applied_by.service: 'vault' is not a service of the stack "
            "(services: postgres)") in str(refused.value)


def test_fovea_refuses_such_a_stack_file_with_exit_2_before_writing_any_secret(tmp_path: Path) -> None:
    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "fovea_stack.py").write_text(
        "from fovea_ctl.model import AppliedBy, ImageSpec, Secret, Service, Stack\n"
        "def build_stack(settings):\n"
        "    return Stack(name='t', services=[Service(name='db', image=ImageSpec(registry='x/y:1'), secrets=['pw'])],\n"
        "                 secrets=[Secret(name='pw', applied_by=AppliedBy(service='dbb', command=['set-pw']))])\n")

    result = run_fovea(["secrets", "list"], {**os.environ, "FOVEA_ROOT": str(tmp_path), "FOVEA_PROJECT": "hooks"})

    assert result.returncode == 2, result.stdout + result.stderr
    assert "secret 'pw', field applied_by.service: 'dbb' is not a service of the stack" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(tmp_path.rglob("pw"))  # no secret was generated for a stack that is refused


@pytest.mark.parametrize("command, message", [([], "at least 1 item"), ([""], "the command's program is empty")])
def test_a_hook_is_a_program_and_its_arguments(command: list[str], message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        AppliedBy(service="vault", command=command)
    assert message in str(refused.value)


def apply_secret(args: list[str], stdin: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The backend's hook as the image runs it (its own modules, its settings from BACKEND_*), against a
    database port nothing listens on: it must say what went wrong and exit non-zero."""
    password = tmp_path / "db_password"
    password.write_text("whatever")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "services" / "backend"),
           "BACKEND_DB_HOST": "127.0.0.1", "BACKEND_DB_PORT": "9", "BACKEND_DB_PASSWORD_FILE": str(password)}
    return subprocess.run([sys.executable, "-m", "fovea_backend.apply_secret", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_backends_hook_refuses_a_wrong_call_and_an_empty_value_with_exit_2(tmp_path: Path) -> None:
    for args, stdin in ((["session-secret"], "value"), ([], "value"), (["admin-password"], " \n")):
        result = apply_secret(args, stdin, tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == ""
    assert "usage: python3 -m fovea_backend.apply_secret {admin-password} < value" in apply_secret([], "v", tmp_path).stderr


def test_the_backends_hook_without_its_database_exits_1_naming_the_database_error(tmp_path: Path) -> None:
    result = apply_secret(["admin-password"], "new-password", tmp_path)

    assert result.returncode == 1 and result.stdout == ""
    assert "apply_secret: admin-password not applied, database error:" in result.stderr
    assert "new-password" not in result.stderr
