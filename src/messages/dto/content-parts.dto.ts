import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  Equals,
  IsArray,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateBy,
  ValidateNested,
  ValidationArguments,
} from 'class-validator';
import { ContentPart, textOf, ToolCallPart, ToolChoice, ToolDefinition } from '../../providers/content-parts';

/**
 * The content parts, tool calls and tool definitions a request may carry, in this API's forms and OpenAI's (Chat
 * Completions API reference, "messages", "tools", "tool_choice"), validated field by field so every error names its
 * path (`messages.0.content.1.image_url.url`), then normalised to the provider-facing `ContentPart` shapes.
 */

/** Longest text of one part or message, in characters (user messages are limited further: MAX_INPUT_LENGTH). */
const MAX_TEXT_CHARS = 1_000_000;
/** Most parts in one message's `content`. */
const MAX_PARTS = 1000;
/** Longest image URL the DTO lets through; the configured `limits.max_image_url_length` is checked after it. */
const MAX_URL_CHARS = 100_000_000;
/** Tool call ids: what OpenAI, Anthropic (`^[a-zA-Z0-9_-]+$`) and Gemini ids look like, within a stored column. */
const TOOL_CALL_ID = /^[\x21-\x7e]{1,128}$/;
/** Function names as OpenAI and Anthropic accept them (Gemini's rule is no wider). */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const TOOL_NAME_MESSAGE = 'must be 1 to 64 letters, digits, underscores or dashes';

/** Part types accepted in a `content` array. */
export const INPUT_PART_TYPES = ['text', 'image', 'image_url', 'tool_call'] as const;
/** OpenAI's image `detail`. */
export const IMAGE_DETAILS = ['auto', 'low', 'high'] as const;

/** A part whose `type` is none of the known ones (only its `type` is read: the error names it). */
export class ContentPartInputDto {
  @ApiProperty({ enum: INPUT_PART_TYPES })
  @IsIn(INPUT_PART_TYPES, { message: `type must be one of ${INPUT_PART_TYPES.join(', ')} (audio and file parts are not supported)` })
  type: string;
}

/** `{ "type": "text", "text": … }` */
export class TextPartInputDto {
  @ApiProperty({ enum: ['text'] }) @Equals('text') type: 'text';
  @IsString() @MaxLength(MAX_TEXT_CHARS)
  text: string;
}

/** An image in this API's form: `{ "type": "image", "url": "https://…" | "data:image/png;base64,…", "detail"? }`. */
export class ImagePartInputDto {
  @ApiProperty({ enum: ['image'] }) @Equals('image') type: 'image';
  /** An `https:` URL, or a `data:` URL holding a PNG, JPEG, WebP or GIF image in base64. */
  @IsString() @MaxLength(MAX_URL_CHARS) @Matches(/^(https:\/\/|data:)/i, { message: 'url must be an https: URL or a data: URL' })
  url: string;
  /** OpenAI's image detail (`low`: one fixed-cost tile); other protocols ignore it. */
  @ApiProperty({ enum: IMAGE_DETAILS, required: false }) @IsOptional() @IsIn(IMAGE_DETAILS)
  detail?: 'auto' | 'low' | 'high';
}

/** The image of an OpenAI `image_url` part. */
export class ImageUrlInputDto {
  /** An `https:` URL, or a `data:` URL holding a PNG, JPEG, WebP or GIF image in base64. */
  @IsString() @MaxLength(MAX_URL_CHARS) @Matches(/^(https:\/\/|data:)/i, { message: 'url must be an https: URL or a data: URL' })
  url: string;
  @ApiProperty({ enum: IMAGE_DETAILS, required: false }) @IsOptional() @IsIn(IMAGE_DETAILS)
  detail?: 'auto' | 'low' | 'high';
}

/** An image in OpenAI's form: `{ "type": "image_url", "image_url": { "url", "detail"? } }`. */
export class ImageUrlPartInputDto {
  @ApiProperty({ enum: ['image_url'] }) @Equals('image_url') type: 'image_url';
  @IsObject() @ValidateNested() @Type(() => ImageUrlInputDto)
  image_url: ImageUrlInputDto;
}

/** A tool call of an earlier answer, in this API's form (assistant messages): `arguments` is JSON text. */
export class ToolCallPartInputDto {
  @ApiProperty({ enum: ['tool_call'] }) @Equals('tool_call') type: 'tool_call';
  @IsString() @Matches(TOOL_CALL_ID, { message: 'id must be 1 to 128 printable ASCII characters' })
  id: string;
  @IsString() @Matches(TOOL_NAME, { message: `name ${TOOL_NAME_MESSAGE}` })
  name: string;
  /** The call's arguments as JSON text, as the model wrote them. */
  @IsString() @MaxLength(MAX_TEXT_CHARS)
  arguments: string;
}

/** The OpenAPI schema of a `content` field: a string, or an array of parts. */
export function contentSchema(parts: (new () => object)[], description: string) {
  return {
    description,
    oneOf: [{ type: 'string' }, { type: 'array', items: { oneOf: parts.map((p) => ({ $ref: getSchemaPath(p) })) } }],
  };
}

/**
 * A message's `content`: a string (kept as one text part) or an array of parts, each validated by its `type`. After
 * validation the property holds part DTOs; absent (or null) is left absent, for the turn engine to judge.
 */
export function IsContentParts(): PropertyDecorator {
  const decorators = [
    Transform(
      ({ obj, key, value }: { obj: Record<string, unknown>; key: string; value: unknown }) => {
        if (typeof obj[key] === 'string') return [Object.assign(new TextPartInputDto(), { type: 'text', text: obj[key] })];
        // A part of an unknown type keeps only its type: the error names the type, not each of its fields.
        if (!Array.isArray(value)) return value;
        return value.map((p: unknown) => (p?.constructor === ContentPartInputDto ? Object.assign(new ContentPartInputDto(), { type: (p as ContentPartInputDto).type }) : p));
      },
      { toClassOnly: true },
    ),
    IsArray({ message: '$property must be a string or an array of content parts' }),
    ArrayMaxSize(MAX_PARTS),
    ValidateNested({ each: true }),
    Type(() => ContentPartInputDto, {
      discriminator: {
        property: 'type',
        subTypes: [
          { value: TextPartInputDto, name: 'text' },
          { value: ImagePartInputDto, name: 'image' },
          { value: ImageUrlPartInputDto, name: 'image_url' },
          { value: ToolCallPartInputDto, name: 'tool_call' },
        ],
      },
      keepDiscriminatorProperty: true,
    }),
  ];
  return (target, property) => decorators.forEach((d) => d(target, property));
}

/** Content parts as validated by {@link IsContentParts}. */
export type ContentPartInput = TextPartInputDto | ImagePartInputDto | ImageUrlPartInputDto | ToolCallPartInputDto;

/** The function of an OpenAI tool call. */
export class FunctionCallInputDto {
  @IsString() @Matches(TOOL_NAME, { message: `name ${TOOL_NAME_MESSAGE}` })
  name: string;
  /** The call's arguments as JSON text, as the model wrote them. */
  @IsString() @MaxLength(MAX_TEXT_CHARS)
  arguments: string;
}

/** A tool call of an earlier answer in OpenAI's form (`tool_calls` of an assistant message). */
export class ToolCallInputDto {
  @IsString() @Matches(TOOL_CALL_ID, { message: 'id must be 1 to 128 printable ASCII characters' })
  id: string;
  @ApiProperty({ enum: ['function'] }) @Equals('function') type: 'function';
  @IsObject() @ValidateNested() @Type(() => FunctionCallInputDto)
  function: FunctionCallInputDto;
}

/** A `tool` message's `tool_call_id`. */
export function IsToolCallId(): PropertyDecorator {
  return (target, property) => {
    IsString()(target, property);
    Matches(TOOL_CALL_ID, { message: 'tool_call_id must be 1 to 128 printable ASCII characters' })(target, property);
  };
}

/** A function the model may call (OpenAI's `function` of a tool). */
export class FunctionDefinitionInputDto {
  /** Letters, digits, `_` and `-`, at most 64 characters. */
  @IsString() @Matches(TOOL_NAME, { message: `name ${TOOL_NAME_MESSAGE}` })
  name: string;
  /** What the function does, for the model (at most `tools.max_description_length` characters). */
  @IsOptional() @IsString()
  description?: string;
  /**
   * The arguments as a JSON Schema object (`{"type":"object","properties":…}`); omitted: no arguments. At most
   * `tools.max_parameters_depth` levels deep and `tools.max_parameters_bytes` bytes.
   */
  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional() @IsObject() @ValidateBy({
    name: 'isObjectSchema',
    validator: {
      validate: (v: unknown) => (v as { type?: unknown }).type === undefined || (v as { type?: unknown }).type === 'object',
      defaultMessage: () => 'parameters must be a JSON Schema with "type": "object"',
    },
  })
  parameters?: Record<string, unknown>;
  /** OpenAI's strict schema adherence: only `false` (the default) is supported. */
  @ApiProperty({ type: Boolean, required: false })
  @IsOptional() @ValidateBy({
    name: 'notStrict',
    validator: { validate: (v: unknown) => v === false, defaultMessage: () => 'strict: true is not supported by this server' },
  })
  strict?: boolean;
}

/** `{ "type": "function", "function": { name, description, parameters } }` (OpenAI's form of a tool). */
export class ToolInputDto {
  @ApiProperty({ enum: ['function'] }) @Equals('function', { message: 'type must be "function"' }) type: 'function';
  @IsObject() @ValidateNested() @Type(() => FunctionDefinitionInputDto)
  function: FunctionDefinitionInputDto;
}

/** The tools of a request (at most `tools.max_tools` of them, names unique). */
export function IsTools(): PropertyDecorator {
  const decorators = [IsArray(), ArrayMaxSize(10_000), ValidateNested({ each: true }), Type(() => ToolInputDto)];
  return (target, property) => decorators.forEach((d) => d(target, property));
}

/** Why a `tool_choice` is refused, or undefined when it has one of its shapes. */
function toolChoiceProblem(value: unknown): string | undefined {
  if (value === 'auto' || value === 'none' || value === 'required') return undefined;
  if (typeof value === 'string') return 'must be "auto", "none", "required" or {"type":"function","function":{"name":…}}';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be a string or an object';
  const choice = value as { type?: unknown; function?: unknown };
  const extra = Object.keys(choice).filter((k) => k !== 'type' && k !== 'function');
  if (extra.length) return `${extra.join(', ')} is not supported by this server`;
  if (choice.type !== 'function') return 'type must be "function"';
  const fn = choice.function as { name?: unknown } | null;
  if (typeof fn !== 'object' || fn === null || Array.isArray(fn) || Object.keys(fn).some((k) => k !== 'name')) {
    return 'function must be an object {"name": …}';
  }
  if (typeof fn.name !== 'string' || !TOOL_NAME.test(fn.name)) return `function.name ${TOOL_NAME_MESSAGE}`;
  return undefined;
}

/**
 * `tool_choice`: `auto` (the model decides), `none`, `required` (some tool), or `{type: "function", function: {name}}`
 * (that tool; the name must be one of `tools`, checked by the turn engine).
 */
export function IsToolChoice(): PropertyDecorator {
  return ValidateBy({
    name: 'isToolChoice',
    validator: {
      validate: (value: unknown) => toolChoiceProblem(value) === undefined,
      defaultMessage: (args?: ValidationArguments) => `tool_choice ${toolChoiceProblem(args?.value) ?? 'is invalid'}`,
    },
  });
}

/** The OpenAPI schema of `tool_choice`. */
export const TOOL_CHOICE_SCHEMA = {
  oneOf: [
    { type: 'string', enum: ['auto', 'none', 'required'] },
    {
      type: 'object',
      required: ['type', 'function'],
      properties: {
        type: { type: 'string', enum: ['function'] },
        function: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
      },
    },
  ],
};

/** `tool_choice` as the request gave it (after {@link IsToolChoice}). */
export type ToolChoiceInput = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

/**
 * A validated message's content and tool calls as provider-facing parts, in order (`tool_calls` last). `content` is
 * an array once validated; a string (typed for the schema generator's sake) is one text part.
 */
export function partsOf(content: string | ContentPartInput[] | undefined, toolCalls?: ToolCallInputDto[]): ContentPart[] {
  const given = typeof content === 'string' ? [Object.assign(new TextPartInputDto(), { type: 'text', text: content })] : content;
  const parts: ContentPart[] = (given ?? []).map((p): ContentPart => {
    switch (p.type) {
      case 'text':
        return { type: 'text', text: p.text };
      case 'image':
        return { type: 'image', url: p.url, ...(p.detail && { detail: p.detail }) };
      case 'image_url':
        return { type: 'image', url: p.image_url.url, ...(p.image_url.detail && { detail: p.image_url.detail }) };
      case 'tool_call':
        return { type: 'tool_call', id: p.id, name: p.name, arguments: p.arguments };
    }
  });
  for (const call of toolCalls ?? []) {
    parts.push({ type: 'tool_call', id: call.id, name: call.function.name, arguments: call.function.arguments } satisfies ToolCallPart);
  }
  return parts;
}

/** Validated tools as provider-facing definitions (a missing `parameters` is a schema of no arguments). */
export function toolsOf(tools: ToolInputDto[] | undefined): ToolDefinition[] | undefined {
  return tools?.map((t) => ({
    name: t.function.name,
    ...(t.function.description !== undefined && { description: t.function.description }),
    parameters: t.function.parameters ?? { type: 'object', properties: {} },
  }));
}

/** A validated `tool_choice` as the provider-facing choice. */
export function toolChoiceOf(choice: ToolChoiceInput | undefined): ToolChoice | undefined {
  if (choice === undefined) return undefined;
  return typeof choice === 'string' ? choice : { name: choice.function.name };
}

/** A validated message of either endpoint, before its role is mapped. */
interface MessageInput<R> {
  role: R;
  content?: string | ContentPartInput[];
  tool_call_id?: string;
  tool_calls?: ToolCallInputDto[];
}

/**
 * A validated message as the turn engine takes it: its parts (content parts, then `tool_calls`), their text, and
 * where each part came from in the request (`messages.<i>.content.<j>`, `messages.<i>.tool_calls.<k>`) for errors.
 * @param i the message's index in `messages`
 */
export function turnMessageOf<R>(m: MessageInput<R>, i: number) {
  const parts = partsOf(m.content, m.tool_calls);
  return {
    role: m.role,
    content: textOf(parts),
    parts,
    part_fields: [
      ...(typeof m.content === 'string' ? [m.content] : (m.content ?? [])).map((_, j) => `messages.${i}.content.${j}`),
      ...(m.tool_calls ?? []).map((_, k) => `messages.${i}.tool_calls.${k}`),
    ],
    ...(m.tool_call_id !== undefined && { tool_call_id: m.tool_call_id }),
  };
}
