/**
 * What an application's API key may do, chosen when the key is created (default: every scope). A key never
 * reaches admin routes nor account management (password, account deletion, applications, login sessions),
 * whatever its user's role.
 * - `chat`: send messages, create, change and delete sessions, list models;
 * - `sessions:read`: read sessions, their messages, history and context;
 * - `prompts`: prompt templates; `files`: PDF uploads; `usage:read`: profile, usage and limits.
 */
export const API_KEY_SCOPES = ['chat', 'sessions:read', 'prompts', 'files', 'usage:read'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
