"""Local Azure emulator: Entra ID sign-in, Microsoft Graph and the ARM subset the portal calls."""
