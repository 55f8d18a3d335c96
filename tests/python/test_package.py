"""The package itself: import, version, the exception hierarchy, the CLI shell."""
import subprocess
import sys

import pytest

import fedshare
from fedshare import errors


def test_version_is_the_build_version():
    parts = fedshare.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)


@pytest.mark.parametrize(
    "cls, builtin",
    [
        (errors.InvalidInputError, ValueError),
        (errors.VerificationError, ValueError),
        (errors.AccessDeniedError, PermissionError),
        (errors.NotFoundError, LookupError),
        (errors.ResourceError, MemoryError),
        (errors.IOFailureError, OSError),
        (errors.TimeoutError_, TimeoutError),
    ],
)
def test_every_error_is_a_fedshare_error_and_its_builtin(cls, builtin):
    exc = cls("boom", code=-3, library="phe")
    assert isinstance(exc, fedshare.Error) and isinstance(exc, builtin)
    assert exc.code == -3 and exc.library == "phe" and str(exc) == "boom"


def test_checker_maps_codes_to_classes():
    from fedshare._native import make_checker

    check = make_checker("x", lambda rc: f"msg{rc}", {-2: errors.InvalidInputError})
    assert check(0) == 0 and check(7) == 7
    with pytest.raises(errors.InvalidInputError, match=r"x: msg-2 \(-2\)"):
        check(-2)
    with pytest.raises(fedshare.Error) as info:
        check(-9)
    assert type(info.value) is fedshare.Error and info.value.code == -9


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError):
        fedshare.no_such_thing  # noqa: B018


def test_cli_help_and_bad_command():
    ok = subprocess.run([sys.executable, "-m", "fedshare", "--help"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "demo" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "fedshare", "nonsense"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
