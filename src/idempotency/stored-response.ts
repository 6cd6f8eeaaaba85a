/** A JSON response kept for repeats: status, the headers that belong to the outcome, and the body. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}
