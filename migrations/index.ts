import { InitialSchema1795404344451 } from './1795404344451-InitialSchema';
import { PromptTemplates1795600200000 } from './1795600200000-PromptTemplates';

/** Every migration, oldest first. A generated migration is added here after it has been read. */
export const MIGRATIONS: Function[] = [InitialSchema1795404344451, PromptTemplates1795600200000];
