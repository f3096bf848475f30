"""Local Azure emulator: Entra ID sign-in, Microsoft Graph and the ARM subset the portal calls.

The package owns everything the emulated cloud is: its data (`records`, `state`, `scenarios`),
its rules (`authz`, `jit`), the HTTP surfaces the real Azure SDKs and a browser talk to (`entra`,
`graph`, `arm`, `blade`, `control`) and the process that serves them (`server`). docs/emulator.md
lists every module.

It may import the standard library, its own modules and the libraries it serves with (werkzeug,
cheroot, PyJWT, cryptography, isodate, requests). It must never import Django or the portal's
apps (`portal`, `accounts`, `deployments`, `jit`): it runs without Django settings, and the portal
reaches it only over HTTP(S), as it would reach Azure.
"""
