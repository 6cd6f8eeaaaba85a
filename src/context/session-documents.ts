import type { ContextDocument } from './context-builder';

/**
 * Where a session's documents come from: the hook the files module plugs into (its
 * `FilesService.documentsForContext(sessionId)`). Abstract class as interface and DI token, like `ModelProvider`.
 */
export abstract class SessionDocuments {
  /** @returns the session's documents with their extracted text, in the order they should appear */
  abstract documentsForContext(sessionId: number): Promise<ContextDocument[]>;
}

/** No documents: the binding until the files module provides `SessionDocuments`. */
export class NoSessionDocuments extends SessionDocuments {
  documentsForContext(): Promise<ContextDocument[]> {
    return Promise.resolve([]);
  }
}
