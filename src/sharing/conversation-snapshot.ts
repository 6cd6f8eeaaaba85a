/** One message of a shared conversation as anyone with the link sees it: no ids, no user, no email. */
export interface SnapshotMessage {
  role: string;
  content: string;
  /** The message's parts (text, images, tool calls), as stored. */
  parts: unknown[];
  /** Answers: the registry id of the model that answered. */
  model: string | null;
  /** ISO 8601. */
  created_at: string;
}

/** What a share link shows: the session's title and active branch at the time it was shared. */
export interface ConversationSnapshot {
  title: string | null;
  messages: SnapshotMessage[];
}
