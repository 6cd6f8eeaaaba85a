/** The text of `src/metadata.ts` for the current sources (see swagger-metadata.js). */
export declare function renderSwaggerMetadata(): string;
/** Absolute path of `src/metadata.ts`. */
export declare const OUTPUT: string;
