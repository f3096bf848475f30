"""The mirror of Azure Resource Manager, and the permission X-ray built on it.

Owns offers, managed applications, subscriptions, managed resources and their sync runs (read
from ARM by Celery tasks, written only where something changed), the Marketplace notification
webhook, and `deployments.permissions`: who may do what in each application and when that
changed.

May import: `accounts` (tenants, people, scope), the gateway to Azure (`azure_gateway`) and the
project's plumbing in `portal`. The mirror itself never imports `jit`; only the pages do, to show
request counts beside applications.
"""
