"""The operations dashboard (`admin/operations/`): what an operator checks when the portal
misbehaves, on one staff-only page linked from the admin index.

`status` reads it (from the models of `accounts`, `deployments` and `jit`, in a fixed number of
aggregate queries whatever the data), `charts` turns hourly numbers into SVG geometry, `views`
renders it. Part of `portal` because it is the one package that may read all three apps.
"""
