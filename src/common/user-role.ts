/** The roles a user can have: `admin` may manage users and system prompt templates; everyone else is a `user`. */
export const USER_ROLES = ['user', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];
