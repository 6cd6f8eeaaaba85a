/**
 * class-transformer `@Transform` for booleans that arrive as text in query strings:
 * `"true"`/`"false"` become booleans, anything else is left for the validator to refuse.
 */
export const toBool = ({ value }: { value: unknown }): unknown =>
  value === 'true' || value === true ? true : value === 'false' || value === false ? false : value;
