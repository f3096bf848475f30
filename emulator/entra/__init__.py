"""Entra ID v2.0: tokens and signing key, discovery, the token endpoint, the sign-in pages."""
