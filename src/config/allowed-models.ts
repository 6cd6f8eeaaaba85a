import type { BudgetLimits } from './file-config';

/**
 * Whether `allowed_models` lets a caller use a model: no list allows every model; an entry matches the model's id
 * or one of its aliases, case-insensitively, and an entry ending in `*` matches every name it starts (`openai/*`).
 */
export function allowsModel(limits: Pick<BudgetLimits, 'allowed_models'>, model: { id: string; aliases: string[] }): boolean {
  if (!limits.allowed_models) return true;
  const names = [model.id, ...model.aliases].map((n) => n.toLowerCase());
  return limits.allowed_models.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.endsWith('*') ? names.some((n) => n.startsWith(p.slice(0, -1))) : names.includes(p);
  });
}
