"""Just-in-time access: requests, decisions, policy changes and their audit trail.

Owns what people do (`services`: recorded first, in one transaction with its audit event), the
outbox that submits each action to ARM exactly once (`outbox`), the mirror of ARM's answers
(`mirror`), the approval channels (`handoff`), the one writer of audit events (`audit`),
notifications, the activity-log copy of what an elevated principal did (`activity`), and
approval windows (`windows` and the `window_*` modules).

May import: `accounts`, the models and permission names of `deployments`, the gateway to Azure
(`azure_gateway`) and the project's plumbing in `portal`. Nothing in `accounts` or in the
`deployments` mirror imports it.
"""
