"""Chinese public holidays and make-up working days from the maintained ``chinese-calendar``
package (国务院办公厅's yearly notice; ADR 0014). It knows the years its release was cut
after; a later year is entered by an administrator until the package is upgraded."""
from __future__ import annotations

from importlib.metadata import version

import chinese_calendar

from domain.calendar.calendar import YearDays


class ChineseHolidays:
    def year(self, year: int) -> YearDays | None:
        """The year's holidays and make-up working days, or None when this release does not know it."""
        holidays = {d.isoformat(): _named(name) for d, name in chinese_calendar.holidays.items() if d.year == year}
        workdays = {d.isoformat(): _named(name) for d, name in chinese_calendar.workdays.items() if d.year == year}
        if not holidays:
            return None
        return YearDays(holidays, workdays, f"chinese-calendar {version('chinese-calendar')}")


CHINESE = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
           "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
           "Mid-autumn Festival": "中秋节"}


def _named(name: object) -> str:
    """"春节 Spring Festival": the library names holidays in English only."""
    english = str(name)
    return f"{CHINESE[english]} {english}" if english in CHINESE else english
