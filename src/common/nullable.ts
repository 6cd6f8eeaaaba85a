import { ValidateIf } from 'class-validator';

/**
 * An optional body field where `null` is a value of its own: it clears what is stored (`"system_prompt": null`
 * removes a session's system prompt). The field's rules apply to every other value; the property's type says
 * `| null`, so the OpenAPI document marks it `nullable`.
 *
 * Every other optional field (`@IsOptional()`) takes `null` as absent: the global validation pipe drops it (the
 * default then applies) before any rule or service sees it.
 */
export const NullClears = (): PropertyDecorator => ValidateIf((_object: object, value: unknown) => value !== undefined && value !== null);
