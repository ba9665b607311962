"""access: departments, operators, roles, menus, business lines, data scopes, field rules."""
