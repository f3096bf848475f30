"""Behaviours the emulator can play although no Azure document shows them (all off by default).

See docs/emulator.md, "Assumptions". `State.assumptions` holds the ones in force.
"""

from typing import Any

ASSUMPTIONS = {
    "pim-link": "a ManualApprove jitRequest gets a PIM schedule request (ticket number = its "
    "name) and a role assignment approval whose stage decides it",
    "update-access-decides": "POST applications/{app}/updateAccess with Elevate+Approved|Denied "
    "decides the app's pending jitRequest, Remove+Expired|Timeout ends its grant",
}


def checked_assumptions(names: Any) -> set[str]:
    """The assumption names given, or ValueError naming the known ones."""
    if isinstance(names, str) or not isinstance(names, list | tuple | set | frozenset):
        raise ValueError("assumptions must be a list of names")
    unknown = sorted(str(n) for n in names if n not in ASSUMPTIONS)
    if unknown:
        raise ValueError(
            f"unknown assumption(s) {', '.join(unknown)}; known: {', '.join(sorted(ASSUMPTIONS))}"
        )
    return {str(n) for n in names}
