/**
 * A message's content as parts, in one shape from the API through storage (the `messages.parts` JSONB column) to
 * the adapters, which translate it to their protocol (OpenAI content parts and `tool_calls`, Anthropic content
 * blocks, Gemini `parts`). Field names are the API's (snake_case), so a stored row is returned as it is.
 */

/** Image types every supported vision protocol accepts (OpenAI, Anthropic and Gemini image inputs). */
export const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;
export type ImageMediaType = (typeof IMAGE_MEDIA_TYPES)[number];

/** A piece of text. */
export interface TextPart {
  type: 'text';
  text: string;
}

/**
 * An image: `url` is an `https:` URL or a `data:<media type>;base64,…` URL. Once the server has checked it (type
 * sniffed from its bytes, size and count limits), `media_type`, `width`, `height` (pixels) and `bytes` are set.
 */
export interface ImagePart {
  type: 'image';
  url: string;
  media_type?: ImageMediaType;
  width?: number;
  height?: number;
  bytes?: number;
  /** OpenAI's image `detail` (`low`: one fixed-cost tile); other protocols ignore it. */
  detail?: 'auto' | 'low' | 'high';
}

/** A function call the model asked for, in an assistant message. `arguments` is JSON text, as the model wrote it. */
export interface ToolCallPart {
  type: 'tool_call';
  id: string;
  name: string;
  arguments: string;
}

export type ContentPart = TextPart | ImagePart | ToolCallPart;

/** A function the model may call: a name, what it does, and its parameters as a JSON Schema object. */
export interface ToolDefinition {
  name: string;
  description?: string;
  /** A JSON Schema (`type: "object"`) describing the arguments. */
  parameters: Record<string, unknown>;
}

/**
 * Whether the model must call a tool: `auto` (the model decides; the default when tools are given), `none`,
 * `required` (some tool), or `{ name }` (that tool).
 */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** The text of `parts`: their text parts joined, in order, with nothing between (images and tool calls left out). */
export function textOf(parts: readonly ContentPart[]): string {
  let text = '';
  for (const part of parts) if (part.type === 'text') text += part.text;
  return text;
}

/** @returns the tool calls among `parts`, in order */
export function toolCallsOf(parts: readonly ContentPart[] | undefined): ToolCallPart[] {
  return (parts ?? []).filter((p): p is ToolCallPart => p.type === 'tool_call');
}

/** @returns the image parts among `parts`, in order */
export function imagesOf(parts: readonly ContentPart[] | undefined): ImagePart[] {
  return (parts ?? []).filter((p): p is ImagePart => p.type === 'image');
}

/**
 * Loads an `https:` image's bytes for a protocol that can only take images inline (Gemini `inlineData`), through
 * the server's SSRF-safe fetcher. Rejects with a `DomainError` when the URL is refused or the image is not valid.
 */
export type ImageLoader = (url: string, signal: AbortSignal) => Promise<{ mediaType: ImageMediaType; data: Buffer }>;
