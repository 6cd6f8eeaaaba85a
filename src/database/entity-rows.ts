import { ObjectLiteral, Repository } from 'typeorm';

/**
 * Reads of one entity by hand-written SQL, for the hot paths where building the query with TypeORM's query builder
 * (and mapping its aliased columns back) costs more than the round trip: the column list is made once from the
 * entity's metadata, and a row is turned into the entity with the columns' own transformers, as TypeORM would.
 */
export class EntityRows<T extends ObjectLiteral> {
  /** `"id", "user_id", …`: every column of the entity, by its database name, for a `SELECT` list. */
  readonly columns: string;

  constructor(private readonly repository: Repository<T>) {
    this.columns = repository.metadata.columns.map((c) => `"${c.databaseName}"`).join(', ');
  }

  /**
   * @param row a row with every column of {@link columns}, as `pg` parsed it
   * @returns the entity, each property set from its column (through the column's transformer, if any)
   */
  hydrate(row: Record<string, unknown>): T {
    const entity = this.repository.create();
    for (const column of this.repository.metadata.columns) {
      const value = row[column.databaseName];
      const transformer = column.transformer;
      const converted: unknown = transformer && !Array.isArray(transformer) ? transformer.from(value) : value;
      (entity as Record<string, unknown>)[column.propertyName] = converted;
    }
    return entity;
  }
}
