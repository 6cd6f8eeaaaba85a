import { InitialSchema1795404344451 } from './1795404344451-InitialSchema';
import { Files1795600300000 } from './1795600300000-Files';

/** Every migration, oldest first. A generated migration is added here after it has been read. */
export const MIGRATIONS: Function[] = [InitialSchema1795404344451, Files1795600300000];
