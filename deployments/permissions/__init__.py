"""The permission X-ray: who may do what in a managed application, and when that changed.

- `snapshot`: the sync's part: one comparable state per application, compared and recorded.
- `changes`: the differences between two states, in sentences.
- `mail`: the change mail to the customer tenant's admins, sent once.
- `names`: readable names for the object ids Azure shows bare.
- `picture`: what a page says about a state (grants, JIT, lock, cautions).
- `rights`: the signed-in person's own effective rights, asked of ARM live.
- `timeline`: the 90-day view of standing access and elevations.
- `pages`, `views`, `urls`: the pages themselves.
- `plain_language`: ARM action strings and durations in words.
"""
