/**
 * Thrown at boot when configuration is invalid; `problems` holds one readable line per problem. Kept apart from the
 * loader so the entry point can recognise it without loading the validators.
 */
export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
