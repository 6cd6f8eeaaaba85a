/**
 * class-transformer `@Transform` for integers that arrive as text in query strings: plain decimal digits (with an
 * optional minus) become numbers, anything else (`1e3`, `0x10`, `1.5`, ` 2`, an empty value) is left as text for
 * `@IsInt()` to refuse. A number too large to be exact still becomes a number, so `@Max()` names the bound.
 */
export const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
