"""Identity and access: users, tenant memberships and roles, API tokens, web sessions."""
