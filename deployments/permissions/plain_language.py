"""Azure RBAC actions in plain words: "Microsoft.Compute/virtualMachines/restart/action" becomes
"restart virtual machines".

Whole-role shapes (Owner, Contributor, Reader) are recognised first; other actions are read
segment by segment, with a small table of resource types and verbs. An action the table does not
know still reads sensibly ("run 'failover' on SQL servers"), and the exact string is always shown
next to the sentence on the pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Resource types, as the last type segment of an action, in the plural a sentence needs.
RESOURCE_NAMES: dict[str, str] = {
    "virtualmachines": "virtual machines",
    "virtualmachinescalesets": "virtual machine scale sets",
    "disks": "disks",
    "snapshots": "disk snapshots",
    "sites": "web apps",
    "serverfarms": "App Service plans",
    "storageaccounts": "storage accounts",
    "blobservices": "blob services",
    "containers": "blob containers",
    "blobs": "blobs",
    "virtualnetworks": "virtual networks",
    "subnets": "subnets",
    "networksecuritygroups": "network security groups",
    "publicipaddresses": "public IP addresses",
    "networkinterfaces": "network interfaces",
    "loadbalancers": "load balancers",
    "dnszones": "DNS zones",
    "privatednszones": "private DNS zones",
    "servers": "servers",
    "databases": "databases",
    "vaults": "vaults",
    "secrets": "secrets",
    "keys": "keys",
    "workspaces": "workspaces",
    "components": "Application Insights components",
    "deployments": "deployments",
    "resourcegroups": "resource groups",
    "roleassignments": "role assignments",
    "roledefinitions": "role definitions",
    "locks": "locks",
    "managedclusters": "Kubernetes clusters",
    "registries": "container registries",
}

# Providers, for wildcards such as "Microsoft.Compute/*".
PROVIDER_NAMES: dict[str, str] = {
    "microsoft.compute": "compute (virtual machines, disks)",
    "microsoft.storage": "storage",
    "microsoft.network": "networking",
    "microsoft.web": "web apps",
    "microsoft.sql": "SQL databases",
    "microsoft.keyvault": "key vaults",
    "microsoft.insights": "monitoring",
    "microsoft.operationalinsights": "Log Analytics",
    "microsoft.resources": "deployments and resource groups",
    "microsoft.authorization": "access control (who may do what)",
    "microsoft.containerservice": "Kubernetes",
    "microsoft.solutions": "managed applications",
}

VERBS: dict[str, str] = {
    "read": "read",
    "write": "create or change",
    "delete": "delete",
}

# Well-known action verbs ("restart/action") read better as English verbs.
ACTION_VERBS: dict[str, str] = {
    "restart": "restart",
    "start": "start",
    "stop": "stop",
    "deallocate": "deallocate",
    "powerOff": "power off",
    "redeploy": "redeploy",
    "reimage": "reimage",
    "listkeys": "read the access keys of",
    "regeneratekey": "regenerate the keys of",
    "runcommand": "run commands on",
    "failover": "fail over",
    "backup": "back up",
    "restore": "restore",
    "swap": "swap slots of",
    "sync": "sync",
    "elevateaccess": "elevate their own access over",
}

ACCESS_CONTROL = re.compile(r"^microsoft\.authorization/", re.IGNORECASE)


def _split_camel(word: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", word).lower()


def _resource_phrase(segments: Sequence[str]) -> str:
    """The resource an action is about, from its type segments."""
    types = [s for s in segments if s != "*"]
    if not types:
        return "resources"
    last = types[-1]
    if last.lower() in RESOURCE_NAMES:
        return RESOURCE_NAMES[last.lower()]
    words = _split_camel(last)
    return words if words.endswith("s") else words + "s"


def describe_action(action: str) -> str:
    """One action (wildcards allowed) as a short phrase without a subject: "restart web apps"."""
    text = action.strip()
    lowered = text.lower()
    if lowered == "*":
        return "do anything"
    if lowered == "*/read":
        return "read everything"
    if lowered in {"*/write", "*/delete"}:
        return {"*/write": "create or change any resource", "*/delete": "delete any resource"}[
            lowered
        ]
    provider, _, rest = text.partition("/")
    segments = rest.split("/") if rest else []
    if ACCESS_CONTROL.match(text):
        if rest.lower().startswith("elevateaccess"):
            return "elevate their own access"
        verb = segments[-1].lower() if segments else "*"
        return {
            "read": "see who has access",
            "write": "grant access to others",
            "delete": "remove others' access",
        }.get(verb, "manage who has access")
    if not segments or segments == ["*"]:
        area = PROVIDER_NAMES.get(provider.lower(), provider)
        return f"do anything with {area}"
    verb = segments[-1]
    if verb.lower() == "action" and len(segments) >= 2:
        name = segments[-2]
        phrase = ACTION_VERBS.get(name, ACTION_VERBS.get(name.lower()))
        resource = _resource_phrase(segments[:-2])
        if phrase:
            return f"{phrase} {resource}"
        return f"run “{_split_camel(name)}” on {resource}"
    if verb == "*":
        return f"do anything with {_resource_phrase(segments[:-1])}"
    if verb.lower() in VERBS:
        return f"{VERBS[verb.lower()]} {_resource_phrase(segments[:-1])}"
    return f"use “{text}”"


def describe_actions(actions: Iterable[str]) -> list[str]:
    """Phrases for a list of actions, without repeats, in the list's order."""
    seen: dict[str, None] = {}
    for action in actions:
        seen.setdefault(describe_action(action), None)
    return list(seen)


def describe_role(permissions: Sequence[Mapping[str, Any]]) -> list[str]:
    """What a role lets its holder do, as phrases; Owner/Contributor/Reader shapes read as such."""
    actions = [a for p in permissions for a in p.get("actions", [])]
    not_actions = [a for p in permissions for a in p.get("notActions", [])]
    data_actions = [a for p in permissions for a in p.get("dataActions", [])]
    lowered = {a.lower() for a in actions}
    phrases: list[str] = []
    if "*" in lowered:
        if not not_actions:
            phrases.append("do anything, including deciding who else has access")
        elif all(ACCESS_CONTROL.match(a) for a in not_actions):
            phrases.append("create, change and delete anything, but not decide who has access")
        else:
            excluded = ", ".join(describe_actions(not_actions))
            phrases.append(f"do anything except: {excluded}")
    else:
        phrases.extend(describe_actions(actions))
    if data_actions:
        phrases.append("work with the data inside resources (" + ", ".join(data_actions) + ")")
    return phrases or ["nothing"]


def join_phrases(phrases: Sequence[str]) -> str:
    """ "a, b and c"."""
    if not phrases:
        return ""
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def describe_duration(seconds: float | None) -> str:
    """ "8 hours", "90 minutes", "1 day"; empty when unknown."""
    if not seconds:
        return ""
    minutes = round(seconds / 60)
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} day{'s' if days != 1 else ''}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minutes"
