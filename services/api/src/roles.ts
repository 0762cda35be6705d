/** Who may read what: the API's roles. Which role may call which route is in routes.ts. */
export const ROLES = ['security_analyst', 'privacy_officer', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];
