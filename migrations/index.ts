import { InitialSchema1795404344451 } from './1795404344451-InitialSchema';

/** Every migration, oldest first. A generated migration is added here after it has been read. */
export const MIGRATIONS: Function[] = [InitialSchema1795404344451];
