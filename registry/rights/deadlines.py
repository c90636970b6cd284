"""The answer's deadline: 30 days or one calendar month from receipt, whichever comes first,
once extendable by two more months (R-DSR-2).

The notice promises a reply within 30 days; the GDPR (Art. 12(3)) allows at most a month.
A month is shorter than 30 days only when it runs through February, so the promise
holds everywhere else and the law's limit there.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from registry.rights.models import RightsRequest

ANSWER_DAYS = 30
ANSWER_MONTHS = 1
MAX_EXTENSION_MONTHS = 2


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, or the month's last day where it has no such day.

    A calendar month, as Art. 12(3) counts it: 31 January gives 28 (or 29) February.
    """
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def first_deadline(received_at: datetime) -> datetime:
    return min(received_at + timedelta(days=ANSWER_DAYS), add_months(received_at, ANSWER_MONTHS))


def deadline(request: RightsRequest) -> datetime:
    """The deadline in force: the extended one once the request was extended."""
    return request.extended_to or request.due_at
