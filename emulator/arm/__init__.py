"""The Azure Resource Manager subset: routing, api-version checks, authorization, paging."""
