"""Who people are and what they may see.

Owns sign-in through Entra ID (the `entra` allauth provider and the ID-token checks), tenants and
whether they are allowed in, people and their memberships (one per app role), the encrypted
refresh tokens and the delegated ARM tokens redeemed from them, and the scope lookups
(`accounts.scoping`) on which every model's `visible_to` is built.

May import: Django, allauth, and the project's plumbing in `portal`. It knows nothing of the
mirror or of JIT, except that its admin reads each tenant's sync status and queues tenant syncs
through `deployments` (`deployments.admin_services`, `deployments.runs`).
"""
