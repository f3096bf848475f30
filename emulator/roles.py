"""Azure's built-in role definitions the emulator knows, by GUID and by name."""

from emulator.records import RoleDefinition

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
USER_ACCESS_ADMIN = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"

BUILTIN_ROLES = [
    RoleDefinition(OWNER, "Owner", "Grants full access to manage all resources.", ["*"]),
    RoleDefinition(
        CONTRIBUTOR,
        "Contributor",
        "Grants full access to manage all resources, but does not allow you to assign roles.",
        ["*"],
        [
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
        ],
    ),
    RoleDefinition(
        READER, "Reader", "View all resources, but does not allow you to make changes.", ["*/read"]
    ),
    RoleDefinition(
        USER_ACCESS_ADMIN,
        "User Access Administrator",
        "Lets you manage user access to Azure resources.",
        ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
    ),
]
ROLE_NAMES = {r.name.lower(): r.id for r in BUILTIN_ROLES}


def role_id(text: str) -> str:
    return ROLE_NAMES.get(text.lower(), text.rstrip("/").split("/")[-1].lower())
