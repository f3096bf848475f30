"""The elevation report as a PDF a customer can hand to an auditor (fpdf2).

Text is set in DejaVu Sans when the machine has it (Debian's fonts-dejavu-core), so names and
justifications in any script survive; without it the PDF uses a core font and characters it
cannot encode become "?", rather than failing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fpdf import FPDF
from fpdf.enums import XPos, YPos

if TYPE_CHECKING:
    from jit.report import Report

# fontTools logs each table it subsets at INFO: noise in the portal's log for every download.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
CORE_FONT = "helvetica"
# Column titles and widths (mm) of the elevations table on a landscape A4 page (277 mm wide).
COLUMNS = (
    ("Customer · application", 44),
    ("Who", 30),
    ("Role", 22),
    ("Granted (UTC)", 38),
    ("Hours", 13),
    ("Why · ticket", 57),
    ("Approval", 38),
    ("Changes", 16),
    ("Outcome", 19),
)


def unicode_font_dir(dirs: tuple[Path, ...] = FONT_DIRS) -> Path | None:
    """A directory holding both DejaVu Sans files, or None."""
    for directory in dirs:
        if all((directory / name).is_file() for name in FONT_FILES.values()):
            return directory
    return None


class _Pdf(FPDF):
    def __init__(self, font_dir: Path | None) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.unicode = font_dir is not None
        if font_dir is not None:
            for style, name in FONT_FILES.items():
                self.add_font("DejaVu", style, str(font_dir / name))
            self.family_name = "DejaVu"
        else:
            self.family_name = CORE_FONT
        self.footer_text = ""

    def text_of(self, value: object) -> str:
        """What the current font can draw: everything in DejaVu, Latin-1 in a core font."""
        text = "" if value is None else str(value)
        if self.unicode:
            return text
        text = text.replace("\u2013", "-").replace("\u2026", "...")
        return text.encode("latin-1", "replace").decode("latin-1")

    def use(self, size: float, style: str = "") -> None:
        self.set_font(self.family_name, style, size)

    def footer(self) -> None:
        self.set_y(-12)
        self.use(7)
        self.cell(0, 5, self.text_of(f"{self.footer_text} · page {self.page_no()}"), align="R")

    def line_of(self, text: str, size: float = 9, style: str = "", height: float = 5) -> None:
        self.use(size, style)
        self.multi_cell(0, height, self.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def report_pdf(
    report: Report,
    *,
    scope: str,
    compress: bool = True,
    font_dirs: tuple[Path, ...] = FONT_DIRS,
) -> bytes:
    """The report's PDF. `scope` names whose report it is (a tenant, or a publisher's customers);
    DejaVu Sans is looked for in `font_dirs`."""
    pdf = _Pdf(unicode_font_dir(font_dirs))
    pdf.set_compression(compress)
    month = report.month.label
    generated = f"{report.generated_at:%Y-%m-%d %H:%M} UTC"
    pdf.footer_text = f"Elevation report, {scope}, {month}, generated {generated}"
    pdf.set_title(pdf.text_of(f"Elevation report: {scope}, {month}"))
    pdf.set_creator("Managed Apps Portal")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.line_of(f"Elevation report: {scope}", 16, "B", 8)
    pdf.line_of(f"{month} (UTC) · generated {generated}", 10)
    pdf.ln(2)
    _summary(pdf, report)
    _weeks(pdf, report)
    if len(report.customers) > 1:
        _customers(pdf, report)
    _elevations(pdf, report)
    pdf.ln(3)
    pdf.line_of(
        "Hours are the time each grant actually ran, clipped to the month. Approval names the "
        "person only where the portal knows it; a decision recorded in the portal is shown as "
        "'recorded by'; Azure does not say who approved. Changes are the succeeded write and "
        "delete operations of the elevated principal in the activity log during the grant; the "
        "grant's own role assignment is not counted.",
        7,
        height=3.5,
    )
    return bytes(pdf.output())


def _summary(pdf: _Pdf, report: Report) -> None:
    granted = len(report.granted)
    others = ", ".join(f"{n} {outcome}" for outcome, n in report.not_granted)
    pdf.line_of("Summary", 11, "B", 6)
    pdf.line_of(
        f"{report.total_hours:.1f} hours of elevated access in {granted} grant(s); "
        f"{len(report.elevations)} request(s) in all" + (f" ({others})" if others else "") + ". "
        f"{report.changes} change(s) made while elevated, of which {report.deletes} delete(s)."
    )
    pdf.ln(2)


def _table(pdf: _Pdf, columns: list[tuple[str, float]], rows: list[list[str]]) -> None:
    pdf.use(7.5)
    with pdf.table(
        col_widths=tuple(width for _, width in columns),
        text_align="LEFT",
        line_height=4,
        first_row_as_headings=True,
        width=sum(width for _, width in columns),
        align="LEFT",
    ) as table:
        header = table.row()
        for title, _ in columns:
            header.cell(pdf.text_of(title))
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(pdf.text_of(value))
    pdf.ln(3)


def _weeks(pdf: _Pdf, report: Report) -> None:
    pdf.line_of("Hours per week by role (the chart's numbers)", 11, "B", 6)
    roles = report.roles or ["(none)"]
    columns = [("Week", 40.0), *((role, 30.0) for role in roles), ("Total", 22.0)]
    rows = [
        [label, *(f"{value:.1f}" for value in values), f"{total:.1f}"]
        for label, values, total in report.week_rows
    ]
    if not report.roles:
        rows = [[label, "0.0", "0.0"] for label, _, _ in report.week_rows]
    _table(pdf, columns, rows)


def _customers(pdf: _Pdf, report: Report) -> None:
    pdf.line_of(
        f"Per customer (median {report.median_hours:.1f} h, {report.median_requests:g} requests)",
        11,
        "B",
        6,
    )
    columns = [("Customer", 70.0), ("Hours", 25.0), ("Requests", 25.0), ("Not granted", 25.0),
               ("Changes", 25.0), ("Deletes", 25.0), ("Flag", 50.0)]  # fmt: skip
    rows = [
        [
            line.name,
            f"{line.hours:.1f}",
            str(line.requests),
            str(line.not_granted),
            str(line.changes),
            str(line.deletes),
            "; ".join(
                flag
                for flag, on in (
                    ("hours well above the median", line.hours_flagged),
                    ("requests well above the median", line.requests_flagged),
                )
                if on
            ),
        ]
        for line in report.customers
    ]
    _table(pdf, columns, rows)


def _elevations(pdf: _Pdf, report: Report) -> None:
    pdf.line_of("Elevations", 11, "B", 6)
    if not report.elevations:
        pdf.line_of("No elevation was requested or granted in this month.")
        return
    rows = []
    for e in report.elevations:
        jit = e.jit
        why = jit.justification + (
            f" · ticket {jit.ticket_reference}" if jit.ticket_reference else ""
        )
        granted = (
            f"{e.began:%d %b %H:%M} to {e.ended:%d %b %H:%M}"
            if e.began and e.ended
            else "not granted"
        )
        changes = f"{e.changes}" + (f" ({e.deletes} delete)" if e.deletes else "")
        rows.append(
            [
                f"{e.customer} · {e.application} · {jit.name}",
                e.who,
                jit.role_name,
                granted,
                f"{e.hours:.1f}",
                why,
                e.approval or "-",
                changes,
                e.outcome,
            ]
        )
    _table(pdf, [(title, float(width)) for title, width in COLUMNS], rows)
