"""Entra's discovery documents: openid-configuration and instance discovery."""

from typing import Any

from emulator.entra.tokens import TokenIssuer


def openid_configuration(issuer: TokenIssuer, tenant: str) -> dict[str, Any]:
    known = issuer.state.tenant(tenant)
    tid = known.id if known else "{tenantid}"
    return {
        "token_endpoint": f"{issuer.https_base}/{tenant}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "jwks_uri": f"{issuer.https_base}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{issuer.https_base}/{tid}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{issuer.https_base}/oidc/userinfo",
        "authorization_endpoint": f"{issuer.http_base}/{tenant}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{issuer.https_base}/{tenant}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{issuer.http_base}/{tenant}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "oid",
            "roles",
            "email",
        ],
        "kerberos_endpoint": f"{issuer.https_base}/{tenant}/kerberos",
        "tenant_region_scope": "EU" if known else None,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


def instance_discovery(issuer: TokenIssuer, tenant: str) -> dict[str, Any]:
    host = issuer.https_base.split("://", 1)[1]
    return {
        "tenant_discovery_endpoint": f"{issuer.https_base}/{tenant}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }
