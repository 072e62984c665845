"""An organization's ``[retention]`` table: how long each kind of personal data is kept before
the retention run (connector/operations/retention.py) destroys it. The table is declared (and
checked) by ``RetentionTable`` in connector/config/orgfile.py; this is what the code reads.

```toml
[retention]
drafts_hours = 24       # files held between the steps of the letter form, never sent
otp_days = 7            # one-time-code challenges (only keyed hashes of the codes)
tokens_days = 30        # citizens' sign-in tokens, counted from their expiry
sms_text_days = 90      # SMS texts and numbers are blanked; the messages are still counted
letters_years = 5       # letters and their attachments, counted from closure
visitors_days = 365     # the in-person desk's visits, scans and alerts, from the visit's end;
                        # then the visitor (photo, ID scan) when nothing of theirs is left
```

Every key is optional (these are the defaults), a number above zero (fractions allowed).
Drafts, challenges and tokens belong to no single organization: they go after the shortest
period any organization sets, so nobody's data outlives what any of them promises.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

HOURS, DAYS, YEARS = 3600.0, 86400.0, 365.25 * 86400.0


@dataclass(frozen=True)
class RetentionPolicy:
    drafts_hours: float = 24
    otp_days: float = 7
    tokens_days: float = 30
    sms_text_days: float = 90
    letters_years: float = 5
    visitors_days: float = 365

    def period(self, key: str) -> timedelta:
        unit = HOURS if key.endswith("_hours") else YEARS if key.endswith("_years") else DAYS
        return timedelta(seconds=float(getattr(self, key)) * unit)
