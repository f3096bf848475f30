"""One spelling for Entra object ids and other GUIDs, so that comparing two is comparing strings.

ARM and Entra write GUIDs in lower case with hyphens, but nothing stops an id arriving upper
case, in braces or without hyphens; two spellings of one person must never pass for two people.
"""

from __future__ import annotations

import uuid


def canonical_guid(text: object) -> str:
    """`text` as a lower-case hyphenated GUID; anything that is not a GUID, stripped and lowered."""
    value = str(text or "").strip()
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value.lower()
