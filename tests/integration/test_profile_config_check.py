"""`pishkhan config check` catches a profile's mistakes before the first letter: a misspelled
placeholder, an unknown filter, a missing value-map entry, a parameter the organization does not
supply — each named with the profile, the step, the placeholder and the fix."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from tests.acceptance import set_option
from tests.integration.test_adapter_check import env
from tests.integration.test_session_dialect import PROFILE


def check(tmp_path: Path, profile_text: str | None = None, org_edit=None) -> tuple[int, str]:
    environment = env(tmp_path, "http://127.0.0.1:9")
    orgs = Path(environment["PISHKHAN_ORGS_DIR"])
    if profile_text is not None:
        path = tmp_path / "vendor.toml"
        path.write_text(profile_text, "utf-8")
        set_option(orgs, "demo-session", "profile", f'"{path}"')
    if org_edit is not None:
        target = orgs / "demo-session.toml"
        target.write_text(org_edit(target.read_text("utf-8")), "utf-8")
    result = CliRunner().invoke(main, ["config", "check"], env=environment)
    return result.exit_code, result.output


def test_the_shipped_session_profile_passes(tmp_path: Path) -> None:
    code, output = check(tmp_path)
    assert code == 0, output
    assert "ok   demo-session" in output


@pytest.mark.parametrize("old, new, expected", [
    ('ReferenceNo = "{tracking_code}"', 'ReferenceNo = "{traking_code}"',
     r"deliver\.steps\[0\] \(AddLetter\)\.args uses the placeholder \{traking_code\}.*"
     r"did you mean 'tracking_code'"),
    ('SentDate = "{submitted_at|jalali(datetime)}"', 'SentDate = "{submitted_at|jalaly}"',
     r"deliver\.steps\[0\] \(AddLetter\)\.args \{submitted_at\|jalaly\} uses the unknown "
     r"filter 'jalaly' — use one of: .*jalali"),
    ('FileName = "{item.name}"', 'FileName = "{item.filename}"',
     r"deliver\.steps\[1\] \(AddAttachment\)\.args uses \{item\.filename\}: an attachment has "
     r"no field 'filename'"),
    ('OrganId = "{params.organ_id}"', 'OrganId = "{params.organid}"',
     r"declares no parameter 'organid' — add \[params\.organid\].*did you mean 'organ_id'"),
    ('SenderType = "{applicant_type|map(sender_type)}"',
     'SenderType = "{applicant_type|map(sendertype)}"',
     r"has no map 'sendertype' — add \[maps\.sendertype\]"),
])
def test_profile_mistakes_fail_config_check(tmp_path: Path, old: str, new: str,
                                            expected: str) -> None:
    text = PROFILE.read_text("utf-8")
    assert old in text
    code, output = check(tmp_path, text.replace(old, new, 1))
    assert code == 1, output
    line = next(line for line in output.splitlines() if line.startswith("FAIL"))
    assert "demo-session.toml" in line and "profile 'session'" in line, line
    assert re.search(expected, line), line


def test_a_missing_map_entry_fails_config_check(tmp_path: Path) -> None:
    text = PROFILE.read_text("utf-8").replace("legal = 2\n", "", 1)
    code, output = check(tmp_path, text, lambda org: org.replace("legal = 2\n", "", 1))
    assert code == 1, output
    assert re.search(r"deliver\.steps\[0\] \(AddLetter\)\.args uses "
                     r"\{applicant_type\|map\(sender_type\)\}, but the map 'sender_type' has "
                     r"no entry for 'legal' — add legal = <their value>", output), output
    # The organization's own map may supply what the profile lacks.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert check(fresh, text)[0] == 0


def test_parameters_are_checked_against_the_profile(tmp_path: Path) -> None:
    code, output = check(tmp_path, org_edit=lambda org: org.replace(
        "organ_id = 1", "organ_idd = 1"))
    assert code == 1 and "adapter.params.organ_idd is not a parameter of profile 'session'" \
        in output and "did you mean 'organ_id'" in output, output
    (tmp_path / "again").mkdir()
    code, output = check(tmp_path / "again", org_edit=lambda org: org.replace(
        "organ_id = 1", 'organ_id = "one"'))
    assert code == 1 and "adapter.params.organ_id must be a whole number" in output, output
