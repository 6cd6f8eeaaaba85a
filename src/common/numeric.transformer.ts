import { ValueTransformer } from 'typeorm';

/** PostgreSQL `numeric`/`bigint` come back from pg as strings; money and token sums are read as JS numbers. */
export const numericTransformer: ValueTransformer = {
  to: (value?: number | null) => value,
  from: (value?: string | null) => (value == null ? value : Number(value)),
};
