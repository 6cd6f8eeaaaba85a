import { InitialSchema1795404344451 } from './1795404344451-InitialSchema';
import { ContextSummaries1795600100000 } from './1795600100000-ContextSummaries';

/** Every migration, oldest first. A generated migration is added here after it has been read. */
export const MIGRATIONS: Function[] = [InitialSchema1795404344451, ContextSummaries1795600100000];
